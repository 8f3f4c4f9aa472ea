import { describe, expect, it } from "vitest";
import { z } from "zod";
import { describeParams, kebab, redactParams, secret, validateParams } from "../../src/task/params.js";

const schema = z.object({
  name: z.string().describe("who"),
  maxCount: z.number().int().default(3).describe("how many"),
  dry_run: z.boolean().default(false),
  color: z.enum(["red", "green"]).optional(),
  tags: z.array(z.string()).default([]),
  sizes: z.array(z.number()).optional(),
  when: z.date().optional(),
  filter: z.object({ a: z.number() }).optional(),
  token: secret(z.string()).optional(),
});

describe("describeParams", () => {
  it("maps each zod type to a flag kind", () => {
    const specs = Object.fromEntries(describeParams(schema).map((s) => [s.key, s]));
    expect(specs.name).toMatchObject({ flag: "--name", kind: "string", required: true, description: "who", secret: false });
    expect(specs.maxCount).toMatchObject({ flag: "--max-count", kind: "number", required: false, default: 3, description: "how many" });
    expect(specs.dry_run).toMatchObject({ flag: "--dry-run", kind: "boolean", default: false });
    expect(specs.color).toMatchObject({ kind: "enum", choices: ["red", "green"], required: false });
    expect(specs.tags).toMatchObject({ kind: "array", itemKind: "string", default: [] });
    expect(specs.sizes).toMatchObject({ kind: "array", itemKind: "number" });
    expect(specs.when).toMatchObject({ kind: "date" });
    expect(specs.filter).toMatchObject({ kind: "json" });
    expect(specs.token).toMatchObject({ secret: true, required: false });
  });

  it("kebab-cases camelCase and snake_case keys", () => {
    expect(kebab("maxCount")).toBe("max-count");
    expect(kebab("max_count")).toBe("max-count");
    expect(kebab("x")).toBe("x");
  });
});

describe("validateParams", () => {
  it("applies defaults", () => {
    expect(validateParams("t", schema, { name: "bob" })).toMatchObject({ name: "bob", maxCount: 3, dry_run: false, tags: [] });
  });

  it("names the flag and the zod message", () => {
    try {
      validateParams("t", schema, { maxCount: 1.5 });
      expect.unreachable();
    } catch (error) {
      const e = error as { code: string; exitCode: number; issues: Array<{ flag?: string; message: string }>; message: string };
      expect(e.code).toBe("FLUID_PARAMS");
      expect(e.exitCode).toBe(2);
      expect(e.issues).toContainEqual({ path: "name", flag: "--name", message: "required, but not given" });
      expect(e.issues.find((i) => i.flag === "--max-count")?.message).toMatch(/int/i);
      expect(e.message).toContain('invalid params for task "t"');
    }
  });
});

describe("redactParams", () => {
  it("hides secret fields and leaves the rest", () => {
    expect(redactParams(schema, { name: "bob", token: "s3cret" })).toEqual({ name: "bob", token: "[redacted]" });
    expect(redactParams(z.object({ a: z.string() }), { a: "x" })).toEqual({ a: "x" });
  });
});
