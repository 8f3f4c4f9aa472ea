import { describe, expect, it } from "vitest";
import { parseCrontab, readEnvLine, splitPercent, type CrontabEntry } from "../../src/schedule/crontab-file.js";
import { cronerPattern, readVixieFields } from "../../src/schedule/crontab-pattern.js";
import { crontabToCommandSpecs } from "../../src/schedule/crontab-commands.js";
import { nameForCommand, uniqueNames } from "../../src/schedule/crontab-names.js";

const user = (text: string) => parseCrontab(text, { system: false });

describe("environment lines, as cron reads them", () => {
  it("takes NAME=value with spaces around =, quotes removed, unquoted values trimmed at the end", () => {
    expect(readEnvLine("PATH=/usr/bin:/bin")).toEqual({ name: "PATH", value: "/usr/bin:/bin" });
    expect(readEnvLine("  FOO = bar baz  ")).toEqual({ name: "FOO", value: "bar baz" });
    expect(readEnvLine('MAILTO=""')).toEqual({ name: "MAILTO", value: "" });
    expect(readEnvLine("GREETING='hello world'")).toEqual({ name: "GREETING", value: "hello world" });
    expect(readEnvLine('"MY VAR"=x')).toEqual({ name: "MY VAR", value: "x" });
    expect(readEnvLine("EMPTY=")).toEqual({ name: "EMPTY", value: "" });
  });
  it("is not a setting when the quote is not closed, or when the line is an entry", () => {
    expect(readEnvLine('X="unclosed')).toBeUndefined();
    expect(readEnvLine("0 3 * * * FOO=bar cmd")).toBeUndefined();
    expect(readEnvLine("@daily FOO=1 cmd")).toBeUndefined();
  });
  it("applies to the entries below it only, later settings winning", () => {
    const p = user("0 1 * * * a\nFOO=1\n0 2 * * * b\nFOO=2\n0 3 * * * c\n");
    expect(p.entries.map((e) => e.env.FOO)).toEqual([undefined, "1", "2"]);
  });
});

describe("% in the command, as cron does", () => {
  it("ends the command at the first unescaped %; the rest is standard input, further % newlines", () => {
    expect(splitPercent("mail -s hi bob%line 1%line 2%")).toEqual({ command: "mail -s hi bob", input: "line 1\nline 2\n" });
  });
  it("makes \\% a literal % in the command and in the input; other backslashes stay", () => {
    expect(splitPercent("date +\\%F > /tmp/d")).toEqual({ command: "date +%F > /tmp/d" });
    expect(splitPercent("cat%100\\% done\\n")).toEqual({ command: "cat", input: "100% done\\n" });
    expect(splitPercent("echo a\\b")).toEqual({ command: "echo a\\b" });
  });
  it("gives an empty input for a trailing %", () => {
    expect(splitPercent("cmd%")).toEqual({ command: "cmd", input: "" });
  });
});

describe("parseCrontab", () => {
  it("keeps every line as an item, with its number: comments, blanks, settings, entries, problems", () => {
    const p = user("# header\n\nSHELL=/bin/bash\n# nightly\n0 3 * * * backup\n0 25 * * * bad\n");
    expect(p.items.map((i) => [i.line, i.type])).toEqual([[1, "comment"], [2, "blank"], [3, "env"], [4, "comment"], [5, "entry"], [6, "problem"]]);
    expect(p.problems).toEqual([{ line: 6, message: 'bad hour "25": 25 is out of range 0-23' }]);
  });
  it("attaches the comments right above an entry to it (a blank line or a setting ends a block)", () => {
    const p = user("# far\n\n# one\n# two\n0 3 * * * a\nX=1\n# three\nY=2\n0 4 * * * b\n");
    expect(p.entries.map((e) => e.comments)).toEqual([["one", "two"], []]);
  });
  it("reads nicknames and @reboot (case-sensitive, as cron)", () => {
    const p = user("@reboot start\n@daily d\n@annually a\n@midnight m\n@DAILY x\n@every_5m y\n");
    expect(p.entries.map((e) => e.when.kind === "cron" ? e.when.pattern : e.when.kind)).toEqual(["reboot", "@daily", "@annually", "@midnight"]);
    expect(p.problems.map((x) => x.line)).toEqual([5, 6]);
    expect(p.problems[0]!.message).toMatch(/unknown nickname "@DAILY"/);
  });
  it("strips Debian/cronie's '-' (no syslog line) and notes it", () => {
    const [e] = user("-*/5 * * * * quiet\n").entries;
    expect(e).toMatchObject({ noLog: true, command: "quiet", when: { kind: "cron", source: "*/5 * * * *" } });
  });
  it("keeps the command exactly, tabs and inner spaces included", () => {
    const [e] = user("0\t3 * * *\tpg_dump  mydb | gzip > /b/db.gz\n").entries;
    expect(e!.command).toBe("pg_dump  mydb | gzip > /b/db.gz");
  });
  it("reports a sixth time field, a missing command, names that are not cron's, L/W/#, backwards ranges and steps on numbers", () => {
    const p = user("* * * * * * cmd\n0 3 * * *\n0 0 * * monday x\n0 0 L * * x\n0 0 * * 5#2 x\n0 0 * * fri-sun x\n5/15 * * * * x\n0 0 * * */0 x\n0 3 * *\n");
    expect(p.entries).toEqual([]);
    expect(p.problems.map((x) => x.message)).toEqual([
      "a sixth time field where the command should start; cron has 5 time fields (no seconds)",
      "no command",
      'bad day of week "monday": "monday" is not a number or a 3-letter name (sun, mon, tue, wed, thu, fri, sat)',
      'bad day of month "L": L, W, # and ? are not Vixie cron syntax (cron rejects the line); write the schedule with cron() by hand',
      'bad day of week "5#2": L, W, # and ? are not Vixie cron syntax (cron rejects the line); write the schedule with cron() by hand',
      'bad day of week "fri-sun": the range runs backwards (5 > 0); cron rejects it',
      'bad minute "5/15": cron takes a step only after "*" or a range; write "5-59/15"',
      'bad day of week "*/0": a step of 0',
      '4 time fields and no command; an entry is "minute hour day month weekday command"',
    ]);
  });
  it("reports a CRON_TZ that is no zone, and a date that never comes", () => {
    const p = user("0 0 30 2 * never\nCRON_TZ=Mars/Olympus\n0 3 * * * x\n");
    expect(p.entries).toEqual([]);
    expect(p.problems).toEqual([
      { line: 1, message: '"0 0 30 2 *" never fires: no date matches its day and month fields' },
      { line: 3, message: 'CRON_TZ=Mars/Olympus is not a time zone fluid knows (an IANA name such as "Europe/London")' },
    ]);
  });
  it("reads a user field in a system crontab, detected or told, and says the run's user changes", () => {
    const text = "SHELL=/bin/sh\n17 * * * * root cd / && run-parts /etc/cron.hourly\n@reboot www-data /srv/start\n";
    const p = parseCrontab(text, { users: ["root", "www-data"] });
    expect(p.system).toBe(true);
    expect(p.entries.map((e) => [e.user, e.command])).toEqual([["root", "cd / && run-parts /etc/cron.hourly"], ["www-data", "/srv/start"]]);
    expect(p.warnings.map((w) => w.line)).toEqual([2, 3]);
    expect(parseCrontab("0 3 * * * echo hi\n").system).toBe(false);
    expect(parseCrontab("0 3 * * * root x\n0 4 * * * backup.sh\n").system).toBe(false);
    expect(parseCrontab("0 3 * * * root x\n", { system: false }).entries[0]!.command).toBe("root x");
    expect(parseCrontab("0 3 * * *  root\n", { system: true }).problems[0]!.message).toBe("no command");
  });
  it("warns when the file does not end with a newline (cron skips that last line; fluid carries it over)", () => {
    const p = user("0 3 * * * a");
    expect(p.entries).toHaveLength(1);
    expect(p.warnings[0]!.message).toMatch(/does not end with a newline/);
  });
  it("takes CRLF line ends", () => {
    expect((user("0 3 * * * a\r\n").entries[0] as CrontabEntry).command).toBe("a");
  });
});

describe("the time fields: cron's sets and the pattern cron() gets", () => {
  it("folds day-of-week 7 into Sunday and reads 3-letter names in any case", () => {
    const s = readVixieFields(["0", "0", "*", "JAN,Jul", "5-7"]);
    expect([...s.values.dayOfWeek].sort()).toEqual([0, 5, 6]);
    expect([...s.values.month].sort((a, b) => a - b)).toEqual([1, 7]);
  });
  it("keeps the text, adding croner's '+' where cron needs both day fields to match", () => {
    expect(cronerPattern(["0", "0", "*", "*", "1"])).toEqual({ pattern: "0 0 * * 1" });
    expect(cronerPattern(["0", "0", "1", "*", "1"])).toEqual({ pattern: "0 0 1 * 1" }); // OR, as croner
    expect(cronerPattern(["0", "0", "*/2", "*", "*"])).toEqual({ pattern: "0 0 */2 * *" });
    expect(cronerPattern(["0", "0", "*", "*", "*/2"])).toEqual({ pattern: "0 0 * * */2" });
    expect(cronerPattern(["0", "0", "*/2", "*", "1"]).pattern).toBe("0 0 */2 * +1");
    expect(cronerPattern(["0", "0", "1-7", "*", "*/2"]).pattern).toBe("0 0 1-7 * +*/2");
  });
  it("keeps only the first value of a step larger than its field, as cron (croner refuses the step)", () => {
    expect(cronerPattern(["*/90", "*", "*", "*", "*"]).pattern).toBe("0 * * * *");
    expect(cronerPattern(["0", "1-23/30", "*", "*", "*"]).pattern).toBe("0 1 * * *");
  });
});

describe("command specs", () => {
  const text = [
    "SHELL=/bin/bash",
    "PATH=/usr/local/bin:/usr/bin:/bin",
    "MAILTO=ops@example.com",
    "TZ=Europe/Paris",
    "# nightly dump",
    "0 3 * * * pg_dump mydb > /backups/db.sql",
    "#0 4 * * * old-job",
    "@reboot /usr/local/bin/backup.sh",
    'MAILTO=""',
    "SHELL=/bin/sh",
    "CRON_TZ=America/New_York",
    "30 2 * * * /usr/local/bin/backup.sh --full%yes%",
  ].join("\n") + "\n";
  const specs = crontabToCommandSpecs(user(text));

  it("maps SHELL to shell, MAILTO to mailto, CRON_TZ to the schedule's zone, the rest (TZ too) to env", () => {
    expect(specs[0]).toEqual({
      name: "pg_dump_mydb",
      command: "pg_dump mydb > /backups/db.sql",
      schedule: { kind: "cron", pattern: "0 3 * * *", source: "0 3 * * *" },
      description: "nightly dump",
      shell: "/bin/bash",
      env: { PATH: "/usr/local/bin:/usr/bin:/bin", TZ: "Europe/Paris" },
      mailto: "ops@example.com",
      source: { line: 6, raw: "0 3 * * * pg_dump mydb > /backups/db.sql", noLog: false },
    });
  });
  it("makes @reboot an atStart schedule; a commented-out entry is no description", () => {
    expect(specs[1]).toMatchObject({ name: "backup", schedule: { kind: "start", source: "@reboot" } });
    expect(specs[1]!.description).toBeUndefined();
  });
  it("drops mail for MAILTO=\"\" and the shell for /bin/sh; % becomes input; names stay unique", () => {
    expect(specs[2]).toMatchObject({ name: "backup_2", command: "/usr/local/bin/backup.sh --full", input: "yes\n", schedule: { tz: "America/New_York" } });
    expect(specs[2]!.mailto).toBeUndefined();
    expect(specs[2]!.shell).toBeUndefined();
    expect(specs[2]!.env).toEqual({ PATH: "/usr/local/bin:/usr/bin:/bin", TZ: "Europe/Paris" });
  });
  it("takes no description from a long header block (crontab's template)", () => {
    const header = ["# Edit this file", "# to introduce tasks", "#", "# For more information see crontab(5)", "# m h dom mon dow command"].join("\n");
    expect(crontabToCommandSpecs(user(`${header}\n0 3 * * * a\n`))[0]!.description).toBeUndefined();
  });
});

describe("task names from commands", () => {
  it.each([
    ["pg_dump mydb > /backups/db.sql", "pg_dump_mydb"],
    ["test -x /usr/sbin/anacron || ( cd / && run-parts --report /etc/cron.daily )", "run_parts_cron_daily"],
    ["[ -x /usr/lib/php/sessionclean ] && if [ ! -d /run/systemd/system ]; then /usr/lib/php/sessionclean; fi", "sessionclean"],
    ["command -v debian-sa1 > /dev/null && debian-sa1 1 1", "debian_sa1"],
    ["test -x /usr/bin/certbot -a \\! -d /run/systemd/system && perl -e 'sleep int(rand(43200))' && certbot -q renew", "certbot_renew"],
    ["cd /srv/app && nice -n 19 ionice -c3 flock -n /tmp/app.lock python3 manage.py clearsessions", "manage_clearsessions"],
    ["curl -fsS -m 10 -o /dev/null https://hc-ping.com/abc", "curl_hc_ping_com"],
    ["su - postgres -c 'vacuumdb --all --analyze'", "vacuumdb"],
    ["timeout 1h rsync -a /src/ backup@host:/dst/", "rsync_src"],
    ["/usr/local/bin/backup.sh", "backup"],
    ["echo hello", "echo_hello"],
    ["2fa-sync", "job_2fa_sync"],
  ])("%s -> %s", (command, name) => {
    expect(nameForCommand(command)).toBe(name);
  });
  it("numbers repeats and avoids taken names", () => {
    expect(uniqueNames(["backup.sh", "/opt/backup.sh --full", "backup"], ["backup"])).toEqual(["backup_2", "backup_3", "backup_4"]);
  });
});
