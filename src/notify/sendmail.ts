import { accessSync, constants } from "node:fs";
import { delimiter, join } from "node:path";
import { userInfo } from "node:os";
import { noticeReport, type RunNotice } from "./notice.js";

/** Where sendmail is looked for after PATH: where cron and mail tools put it. */
const SENDMAIL_FALLBACKS = ["/usr/sbin/sendmail", "/usr/lib/sendmail"];

/** The sendmail program: `configured` if given, else the first `sendmail` on PATH, else the usual places; undefined when there is none. */
export function findSendmail(configured: string | undefined, env: NodeJS.ProcessEnv): string | undefined {
  if (configured !== undefined) return configured;
  const dirs = (env.PATH ?? "").split(delimiter).filter((d) => d !== "");
  for (const candidate of [...dirs.map((d) => join(d, "sendmail")), ...SENDMAIL_FALLBACKS]) {
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {} // not there or not executable: try the next place
  }
  return undefined;
}

/** The arguments of sendmail: `-oi` (a line with a lone dot does not end the message), then the recipients, as cron passes them. */
export function sendmailArgs(to: string[]): string[] {
  return ["-oi", ...to];
}

/**
 * The mail of an alert, headers and body, as sendmail reads it on stdin. The subject reads like
 * cron's ("Cron <user@host> command"): "fluid <user@host> backup failed: exit code 1".
 */
export function mailMessage(n: RunNotice, to: string[], env: NodeJS.ProcessEnv): string {
  const what = n.kind === "recovery" ? "recovered" : n.kind === "timeout" ? "timed out" : "failed";
  const detail = n.kind !== "recovery" && n.error ? `: ${n.error.message.split("\n", 1)[0]!.slice(0, 120)}` : "";
  const headers = [
    `To: ${to.join(", ")}`,
    `Subject: ${encodeHeader(`fluid <${userName(env)}@${n.host}> ${n.task} ${what}${detail}`)}`,
    "Auto-Submitted: auto-generated",
    "MIME-Version: 1.0",
    "Content-Type: text/plain; charset=UTF-8",
    "Content-Transfer-Encoding: 8bit",
    `X-Fluid-Task: ${n.task}`,
    `X-Fluid-Run-Id: ${n.runId}`,
    `X-Fluid-Kind: ${n.kind}`,
  ];
  return `${headers.join("\n")}\n\n${noticeReport(n)}`;
}

function userName(env: NodeJS.ProcessEnv): string {
  try {
    return userInfo().username;
  } catch {
    return env.USER ?? env.LOGNAME ?? "fluid";
  }
}

/** A header value on one line; non-ASCII as an RFC 2047 encoded word. */
function encodeHeader(value: string): string {
  const line = value.replace(/[\r\n]+/g, " ");
  return /^[\x20-\x7e]*$/.test(line) ? line : `=?UTF-8?B?${Buffer.from(line, "utf8").toString("base64")}?=`;
}
