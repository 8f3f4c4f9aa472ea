// The dashboard end to end: a real `fluid serve --http` in a temp project, driven by headless
// Chromium (Debian's `chromium`, through playwright-core). Screenshots go to
// test-results/dashboard/ (gitignored); FLUID_DOCS_SCREENSHOT=1 also refreshes docs/dashboard.png.
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { CONFIG, ROOT, useTempProjects } from "../helpers/cli.js";
import { useServe, type Served } from "../helpers/serve.js";

const CHROMIUM = "/usr/bin/chromium";
const HAS_CHROMIUM = existsSync(CHROMIUM);
const SHOTS = join(ROOT, "test-results", "dashboard");
const TOKEN = "e2e-secret-token";

const TASKS = `
import { task, cron } from "fluid-tasks";
import { z } from "zod";
export const greet = task(
  {
    description: "Greets someone a few times",
    params: z.object({
      name: z.string().min(1).describe("who to greet"),
      times: z.number().int().min(1).max(5).default(1).describe("how many greetings"),
      style: z.enum(["plain", "loud"]).default("plain"),
      dryRun: z.boolean().optional().describe("log only"),
    }),
  },
  async (ctx) => {
    for (let i = 1; i <= ctx.params.times; i++) {
      const text = "hello, " + ctx.params.name + " (" + i + ")";
      ctx.log.info(ctx.params.style === "loud" ? text.toUpperCase() : text);
      await new Promise((r) => setTimeout(r, 150));
    }
    return { greeted: ctx.params.name, times: ctx.params.times };
  },
);
export const report = task(
  { description: "Builds the daily report", params: z.object({ fail: z.boolean().default(false) }) },
  async (ctx) => {
    ctx.log.info("building");
    await new Promise((r) => setTimeout(r, 50 + Math.random() * 250));
    if (ctx.params.fail) throw new Error("upstream API answered 503");
  },
);
export const waiter = task(
  { description: "Waits until a file exists", params: z.object({ file: z.string() }) },
  async (ctx) => {
    const { existsSync } = await import("node:fs");
    ctx.log.info("waiting for the file");
    while (!existsSync(ctx.params.file)) await new Promise((r) => setTimeout(r, 50));
    ctx.log.info("released");
  },
);
export const nightly = task(
  { description: "Nightly clean-up", schedule: cron("0 3 * * *") },
  async (ctx) => { ctx.log.info("cleaned"); },
);
`;

describe.skipIf(!HAS_CHROMIUM)(`dashboard in headless Chromium${HAS_CHROMIUM ? "" : ` (skipped: ${CHROMIUM} is missing; apt-get install chromium)`}`, () => {
  const project = useTempProjects();
  const serve = useServe();
  let browser: Browser | undefined;
  let context: BrowserContext | undefined;

  beforeAll(async () => {
    const { chromium } = await import("playwright-core");
    browser = await chromium.launch({ executablePath: CHROMIUM });
    mkdirSync(SHOTS, { recursive: true });
  });
  afterEach(async () => {
    await context?.close();
    context = undefined;
  });
  afterAll(async () => {
    await browser?.close();
  });

  /** Starts the daemon with its HTTP API on an ephemeral loopback port; returns it and its URL. */
  async function start(host = "127.0.0.1"): Promise<{ daemon: Served; url: string; dir: string }> {
    const dir = project({ "fluid.config.ts": CONFIG, "tasks/demo.ts": TASKS });
    const daemon = serve(dir, { args: ["--http", `${host}:0`], env: { FLUID_TOKEN: TOKEN } });
    const line = await daemon.waitFor((l) => l.event === "http", 30_000);
    return { daemon, url: `http://127.0.0.1:${Number(line.port)}/`, dir };
  }

  /** Queues a run through the API (as another client would); returns its id. */
  async function post(url: string, task: string, params: Record<string, unknown>, query = ""): Promise<string> {
    const response = await fetch(`${url}api/tasks/${task}/runs${query}`, {
      method: "POST", headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" }, body: JSON.stringify({ params }),
    });
    expect(response.status).toBeLessThan(300);
    return ((await response.json()) as { run: { id: string } }).run.id;
  }

  /** A fresh page that fails the test on any script error or failed request to another host. */
  async function open(url: string): Promise<{ page: Page; problems: string[] }> {
    context = await browser!.newContext({ viewport: { width: 1280, height: 900 }, colorScheme: "light" });
    const page = await context.newPage();
    const problems: string[] = [];
    page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
    page.on("console", (m) => m.type() === "error" && !/status of 4(01|03|22)/.test(m.text()) && problems.push(`console: ${m.text()}`));
    page.on("request", (r) => !r.url().startsWith(url) && problems.push(`request to another host: ${r.url()}`));
    await page.goto(url);
    return { page, problems };
  }

  /** docs/dashboard.png: the runs view after a few more runs, some failed. */
  async function docsScreenshot(page: Page, url: string): Promise<void> {
    const queue = (task: string, params: Record<string, unknown>) => post(url, task, params, "?wait=10s");
    for (let i = 0; i < 8; i++) await queue(i % 2 ? "greet" : "report", i % 2 ? { name: "Ada", times: 1 + (i % 3) } : { fail: i === 4 });
    await page.setViewportSize({ width: 1000, height: 820 });
    await page.locator("nav a[data-nav=runs]").click();
    await page.locator("table.runs").waitFor();
    await page.waitForTimeout(1500); // the last live refresh, and the header's (at most once a second)
    await page.evaluate("document.getElementById('toasts').replaceChildren()");
    await page.screenshot({ path: join(ROOT, "docs", "dashboard.png"), fullPage: true });
    await page.locator("nav a[data-nav=tasks]").click();
  }

  const shot = (page: Page, name: string) => page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });

  it("lists tasks, runs one from its form (token, 422 by the field, success seen live), shows its logs, disables a task", async () => {
    const { daemon, url, dir } = await start();
    const { page, problems } = await open(url);

    // The tasks view: the schedule and the next fire of the scheduled task.
    const nightly = page.locator("tr[data-task=nightly]");
    await nightly.waitFor();
    await expect.poll(() => nightly.textContent()).toContain("0 3 * * *");
    await expect.poll(() => page.locator("#live").getAttribute("data-state")).toBe("live");
    await shot(page, "1-tasks");

    // The run-now form of greet, generated from its zod schema.
    await page.locator("tr[data-task=greet] a", { hasText: "greet" }).first().click();
    const form = page.locator("form.params-form");
    await form.waitFor();
    expect(await page.locator("#param-greet-name-help").textContent()).toContain("who to greet");
    expect(await page.locator("#param-greet-style option").allTextContents()).toEqual(["(default: plain)", "plain", "loud"]);
    await page.fill("#param-greet-name", "Ada");

    // Mutations need the token: the first submit asks for it.
    await form.locator("button[type=submit]").click();
    await page.locator("#token-panel").waitFor({ state: "visible" });
    expect(await page.locator("#token-why").textContent()).toMatch(/token/);
    await page.fill("#token-input", TOKEN);
    await page.locator("#token-form button[type=submit]").click();
    await page.locator("#token-panel").waitFor({ state: "hidden" });
    expect(await page.inputValue("#param-greet-name")).toBe("Ada"); // the form kept what was typed
    // The page opened its event stream again with the token: live again, and no notice of a lost connection.
    await expect.poll(() => page.locator("#live").getAttribute("data-state")).toBe("live");
    expect((await page.locator(".toast").allTextContents()).filter((t) => /live/i.test(t))).toEqual([]);

    // Bad params: the daemon's zod issues appear next to the field.
    await page.fill("#param-greet-times", "9");
    await form.locator("button[type=submit]").click();
    const timesError = page.locator("#param-greet-times-error");
    await timesError.waitFor({ state: "visible" });
    expect(await timesError.textContent()).toMatch(/5/);
    expect(await page.locator("#param-greet-times").getAttribute("aria-invalid")).toBe("true");
    await shot(page, "2-form-422");

    // Good params: queued, then success without reloading the page.
    await page.fill("#param-greet-times", "3");
    await form.locator("button[type=submit]").click();
    const state = page.locator(".last-queued .queued-state");
    await state.waitFor();
    await expect.poll(() => state.textContent(), { timeout: 15_000 }).toBe("success");
    expect(await timesError.isVisible()).toBe(false);
    await shot(page, "3-task-run");

    // Its logs and result.
    await page.locator(".last-queued a", { hasText: "open run and logs" }).click();
    const logs = page.locator("#logs");
    await expect.poll(() => logs.textContent()).toContain("hello, Ada (3)");
    expect(await logs.textContent()).toContain("hello, Ada (1)");
    expect(await page.locator("pre.result").textContent()).toContain('"greeted": "Ada"');
    expect(await page.locator(".run-state").textContent()).toBe("success");
    await shot(page, "4-run-logs");

    // A running run's logs stream live, and its page follows it to the end.
    const gate = join(dir, "release-waiter");
    const waiting = await post(url, "waiter", { file: gate });
    await page.evaluate(`location.hash = "#/runs/${waiting}"`);
    await expect.poll(() => logs.textContent(), { timeout: 15_000 }).toContain("waiting for the file");
    await expect.poll(() => page.locator(".run-state").textContent()).toBe("running");
    expect(await page.locator(".log-note").textContent()).toBe("Streaming live…");
    writeFileSync(gate, "");
    await expect.poll(() => logs.textContent(), { timeout: 15_000 }).toContain("released");
    await expect.poll(() => page.locator(".run-state").textContent()).toBe("success");

    // The runs list updates live: a run queued elsewhere appears and ends without a reload.
    await page.locator("nav a[data-nav=runs]").click();
    await page.locator("table.runs").waitFor();
    const grace = await post(url, "greet", { name: "Grace", times: 1 });
    const row = page.locator(`tr[data-run="${grace}"]`);
    await expect.poll(() => row.getAttribute("data-state"), { timeout: 15_000 }).toBe("success");
    expect(await page.locator(".chart-rows svg[role=img]").first().getAttribute("aria-label")).toMatch(/Durations of greet: \d run/);
    await shot(page, "5-runs");

    // Disable the scheduled task with a reason, from the keyboard: the reason field takes the
    // focus, Enter disables, and the focus comes back to the switch.
    await page.locator("nav a[data-nav=tasks]").click();
    await page.locator("[data-toggle=nightly]").focus();
    await page.keyboard.press("Enter");
    await expect.poll(() => page.evaluate("document.activeElement.id")).toBe("reason-nightly");
    await page.keyboard.type("maintenance window");
    await page.keyboard.press("Enter");
    await expect.poll(() => page.locator("[data-toggle=nightly]").getAttribute("aria-checked")).toBe("false");
    await expect.poll(() => page.evaluate("document.activeElement.dataset.toggle")).toBe("nightly");
    expect(await nightly.textContent()).toContain("reason: maintenance window");
    expect(await nightly.locator("td").nth(1).textContent()).toBe("paused"); // no next fire while disabled
    const after = (await (await fetch(`${url}api/tasks/nightly`)).json()) as { enabled: boolean; disabledReason: string | null };
    expect(after).toMatchObject({ enabled: false, disabledReason: "maintenance window" });
    await shot(page, "6-disabled");
    if (process.env.FLUID_DOCS_SCREENSHOT === "1") await docsScreenshot(page, url);

    // The daemon's status is this daemon's.
    await page.locator("nav a[data-nav=status]").click();
    await page.locator("#daemon-facts").waitFor();
    expect(await page.locator("#daemon-facts").textContent()).toContain(String(daemon.child.pid));
    expect(await page.locator("#daemon-line").textContent()).toMatch(/pid \d+ on .* queue \d+ · running \d+\/\d+/);

    expect(problems).toEqual([]);

    // The daemon stops gracefully while the page still holds its live streams open.
    daemon.child.kill("SIGTERM");
    expect((await daemon.child).exitCode).toBe(0);
    await expect.poll(() => page.locator("#live").getAttribute("data-state")).not.toBe("live");
  }, 60_000);

  it("asks for the token when every route needs it (a daemon on all interfaces), and refuses a wrong one", async () => {
    const { url } = await start("0.0.0.0");
    const { page, problems } = await open(url);
    await page.locator("#token-panel").waitFor({ state: "visible" });
    expect(await page.locator("main h1").textContent()).toBe("Could not load this page");
    expect(await page.locator("#token-why").textContent()).toMatch(/needs a token/);

    await page.fill("#token-input", "not-the-token");
    await page.locator("#token-form button[type=submit]").click();
    await expect.poll(() => page.locator("#token-why").textContent()).toMatch(/refused the token/);
    expect(await page.locator("#token-panel").isVisible()).toBe(true);

    await page.fill("#token-input", TOKEN);
    await page.locator("#token-form button[type=submit]").click();
    await page.locator("tr[data-task=greet]").waitFor();
    await expect.poll(() => page.locator("#live").getAttribute("data-state")).toBe("live");
    expect(await page.locator("#token-button").textContent()).toBe("Token ✓");
    expect(await page.evaluate("sessionStorage.getItem('fluid.token')")).toBe(TOKEN);
    expect(problems.filter((p) => !/EventSource/.test(p))).toEqual([]);
  }, 60_000);
});
