import { Chalk } from "chalk";
import { describe, expect, it } from "vitest";
import { noColor } from "../../src/cli/output.js";

describe("noColor (what the CLI uses instead of loading chalk when nothing is coloured)", () => {
  const chalk = new Chalk({ level: 0 });
  const plain = noColor();
  const styles = ["bold", "dim", "red", "green", "yellow", "blue", "magenta", "cyan", "gray"] as const;

  it("returns what a chalk instance of level 0 returns, for every style the CLI uses, chained or not", () => {
    const inputs: unknown[][] = [["text"], [""], [], ["a", "b"], [42], ["x\ny"], ["\u001b[31mred\u001b[39m"]];
    for (const style of styles) {
      for (const args of inputs) {
        expect(plain[style](...args)).toBe(chalk[style](...args));
        expect(plain.bold[style](...args)).toBe(chalk.bold[style](...args));
      }
    }
    expect(plain.level).toBe(0);
  });
});
