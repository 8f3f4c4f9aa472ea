/** The crontab fixtures of the round-trip tests, and what those tests share. */
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";

export const FIXTURES = join(import.meta.dirname, "fixtures", "crontab");
export const FROM = new Date("2026-05-10T12:34:00Z");
export const N = 20;
export const ZONES = ["UTC", "Europe/London", "America/New_York", "Asia/Kolkata"];

/** cron's nicknames (entry.c): cron-parser knows only some of them. */
export const NICKNAMES: Record<string, string> = {
  "@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *", "@monthly": "0 0 1 * *", "@weekly": "0 0 * * 0",
  "@daily": "0 0 * * *", "@midnight": "0 0 * * *", "@hourly": "0 * * * *",
};

export function files(): Array<{ name: string; text: string }> {
  const list = ["debian-crontab", "real-world.cron", ...readdirSync(join(FIXTURES, "cron.d")).map((f) => `cron.d/${f}`)];
  return list.map((name) => ({ name, text: readFileSync(join(FIXTURES, name), "utf8") }));
}

export const iso = (ms: number): string => new Date(ms).toISOString().slice(0, 16);

