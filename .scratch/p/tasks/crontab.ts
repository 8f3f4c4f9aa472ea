// Imported from real-world.cron by `fluid import crontab`: one command task per cron line.
// cron's day rule, @reboot (atStart), % (input) and MAILTO (notify) are carried over; see docs/crontab.md.
import { atStart, command, cron } from "fluid-tasks";

/** The zone cron read these times in (this machine's); lines after CRON_TZ name their own. */
const tz = "Europe/London";

// Edit this file to introduce tasks to be run by cron.
//
// m h  dom mon dow   command
// SHELL=/bin/bash  (-> shell option)
// PATH=/usr/local/bin:/usr/bin:/bin  (-> env)
// MAILTO=ops@example.com  (-> notify: { mailto })
const settings = { shell: "/bin/bash", env: { PATH: "/usr/local/bin:/usr/bin:/bin" }, notify: { mailto: "ops@example.com" } };

// health check, quiet unless it fails
export const healthcheck = command("healthcheck", "/usr/local/bin/healthcheck.sh >/dev/null 2>&1", {
  schedule: cron("*/5 * * * *", { tz }),
  description: "health check, quiet unless it fails",
  ...settings,
});
export const artisan_schedule_run = command("artisan_schedule_run", "/usr/bin/php /var/www/app/artisan schedule:run >> /dev/null 2>&1", {
  schedule: cron("0 * * * *", { tz }),
  ...settings,
});
// nightly database dump
export const pg_dump_mydb = command("pg_dump_mydb", "pg_dump mydb > /backups/db-$(date +%F).sql", {
  schedule: cron("0 3 * * *", { tz }),
  description: "nightly database dump",
  ...settings,
});
export const daily = command("daily", "/opt/reports/daily.sh", {
  schedule: cron("30 2 * * 1-5", { tz }),
  ...settings,
});
export const monthly_invoice = command("monthly_invoice", "/home/user/bin/monthly-invoice.py", {
  schedule: cron("15 14 1 * *", { tz }),
  ...settings,
});
export const shutdown_dev_servers = command("shutdown_dev_servers", "/home/user/bin/shutdown-dev-servers", {
  schedule: cron("0 22 * * 1-5", { tz }),
  ...settings,
});
export const echo_run = command("echo_run", "echo \"run 23 minutes after midnight, 2am, 4am ...\"", {
  schedule: cron("23 0-23/2 * * *", { tz }),
  ...settings,
});
export const echo_run_2 = command("echo_run_2", "echo \"run at 5 after 4 every sunday\"", {
  schedule: cron("5 4 * * sun", { tz }),
  ...settings,
});
export const certbot_renew = command("certbot_renew", "certbot renew --quiet", {
  schedule: cron("0 */4 * * *", { tz }),
  ...settings,
});
export const start_tunnel = command("start_tunnel", "/usr/local/bin/start-tunnel.sh", {
  schedule: atStart(), // @reboot: once when fluid serve starts
  ...settings,
});
export const rotate_logs = command("rotate_logs", "/usr/local/bin/rotate-logs", {
  schedule: cron("@daily", { tz }),
  ...settings,
});
export const apt_get_update = command("apt_get_update", "apt-get update -qq", {
  schedule: cron("@weekly", { tz }),
  ...settings,
});
export const monthly_report = command("monthly_report", "/usr/local/bin/monthly-report", {
  schedule: cron("@monthly", { tz }),
  ...settings,
});
export const happy_new_year = command("happy_new_year", "/usr/local/bin/happy-new-year", {
  schedule: cron("@yearly", { tz }),
  ...settings,
});
export const echo_annual = command("echo_annual", "echo annual", {
  schedule: cron("@annually", { tz }),
  ...settings,
});
export const sync_feeds = command("sync_feeds", "/usr/local/bin/sync-feeds", {
  schedule: cron("@hourly", { tz }),
  ...settings,
});
export const midnight_job = command("midnight_job", "/usr/local/bin/midnight-job", {
  schedule: cron("@midnight", { tz }),
  ...settings,
});
export const payroll = command("payroll", "/usr/local/bin/payroll", {
  schedule: cron("0 0 1,15 * *", { tz }),
  ...settings,
});
export const weekly_cleanup = command("weekly_cleanup", "/usr/local/bin/weekly-cleanup", {
  schedule: cron("0 0 * * 0", { tz }),
  ...settings,
});
export const sunday_seven = command("sunday_seven", "/usr/local/bin/sunday-seven", {
  schedule: cron("0 0 * * 7", { tz }),
  ...settings,
});
export const office_hours_ping = command("office_hours_ping", "/usr/local/bin/office-hours-ping", {
  schedule: cron("0 9-17 * * mon-fri", { tz }),
  ...settings,
});
export const q_report = command("q_report", "/usr/local/bin/q-report", {
  schedule: cron("*/15 9-17 * jan-mar,oct-dec mon,wed,fri", { tz }),
  ...settings,
});
// the 13th, and every Friday (cron's OR rule)
export const friday_or_13th = command("friday_or_13th", "/usr/local/bin/friday-or-13th", {
  schedule: cron("0 0 13 * 5", { tz }),
  description: "the 13th, and every Friday (cron's OR rule)",
  ...settings,
});
// odd days that are Mondays ("*/2" starts with *: both day fields must match)
// cron: "0 0 */2 * 1": cron's day rule: "*/2" starts with "*", so a day must match both day fields ("+" in the pattern).
export const odd_mondays = command("odd_mondays", "/usr/local/bin/odd-mondays", {
  schedule: cron("0 0 */2 * +1", { tz }),
  description: "odd days that are Mondays (\"*/2\" starts with *: both day fields must match)",
  ...settings,
});
// cron: "0 12 1-7 * */2": cron's day rule: "*/2" starts with "*", so a day must match both day fields ("+" in the pattern).
export const first_week_even_weekdays = command("first_week_even_weekdays", "/usr/local/bin/first-week-even-weekdays", {
  schedule: cron("0 12 1-7 * +*/2", { tz }),
  ...settings,
});
// cron: "*/90 * * * *": a step larger than its field keeps only its first value, as in cron.
export const big_step = command("big_step", "/usr/local/bin/big-step", {
  schedule: cron("0 * * * *", { tz }),
  ...settings,
});
export const dow_step_to_seven = command("dow_step_to_seven", "/usr/local/bin/dow-step-to-seven", {
  schedule: cron("0 5 * * 1-7/2", { tz }),
  ...settings,
});
export const mail_weekly = command("mail_weekly", "mail -s \"Weekly\" bob", {
  schedule: cron("0 8 * * mon", { tz }),
  input: "Hello Bob,\nthe report is attached.\n", // the text after % in the cron line
  ...settings,
});
export const find_tmp = command("find_tmp", "/usr/bin/find /tmp -type f -mtime +7 -delete", {
  schedule: cron("0 1 * * *", { tz }),
  ...settings,
});
export const month_end = command("month_end", "[ \"$(date +%d -d tomorrow)\" = \"01\" ] && /usr/local/bin/month-end", {
  schedule: cron("45 23 28-31 * *", { tz }),
  ...settings,
});
export const curl_hc_ping_com = command("curl_hc_ping_com", "curl -fsS -m 10 --retry 5 -o /dev/null https://hc-ping.com/0123", {
  schedule: cron("0 */6 * * *", { tz }),
  ...settings,
});
export const every_20 = command("every_20", "/usr/local/bin/every-20", {
  schedule: cron("0-59/20 * * * *", { tz }),
  ...settings,
});
export const weekend = command("weekend", "/usr/local/bin/weekend", {
  schedule: cron("0 10 * * sat,sun", { tz }),
  ...settings,
});
export const every_minute = command("every_minute", "/usr/local/bin/every-minute", {
  schedule: cron("* * * * *", { tz }),
  ...settings,
});
export const no_syslog = command("no_syslog", "/usr/local/bin/no-syslog", {
  schedule: cron("*/30 * * * *", { tz }),
  ...settings,
});
export const manage_clearsessions = command("manage_clearsessions", "cd /srv/app && nice -n 19 ionice -c3 flock -n /tmp/app.lock python3 manage.py clearsessions", {
  schedule: cron("0 4 * * *", { tz }),
  ...settings,
});
export const backup = command("backup", "/usr/local/bin/backup.sh", {
  schedule: cron("0 2 * * *", { tz }),
  ...settings,
});
export const backup_2 = command("backup_2", "/usr/local/bin/backup.sh --incremental", {
  schedule: cron("0 14 * * *", { tz }),
  ...settings,
});
export const leap_day = command("leap_day", "/usr/local/bin/leap-day", {
  schedule: cron("0 0 29 2 *", { tz }),
  ...settings,
});
export const half_year = command("half_year", "/usr/local/bin/half-year", {
  schedule: cron("00 08 * JAN,Jul *", { tz }),
  ...settings,
});
// cron rejects these four; they stay in the module as comments
// fluid import: line 53 is not carried over: bad day of month "L": L, W, # and ? are not Vixie cron syntax (cron rejects the line); write the schedule with cron() by hand
// 0 6 L * * /bin/true
// fluid import: line 54 is not carried over: bad hour "25": 25 is out of range 0-23
// 0 25 * * * /bin/false
// fluid import: line 55 is not carried over: bad minute "5/15": cron takes a step only after "*" or a range; write "5-59/15"
// 5/15 * * * * /usr/local/bin/step-without-range
// fluid import: line 56 is not carried over: bad day of week "fri-sun": the range runs backwards (5 > 0); cron rejects it
// 0 0 * * fri-sun /usr/local/bin/backwards-range
// MAILTO=""  (-> notify: { mailto })
const settings2 = { shell: "/bin/bash", env: { PATH: "/usr/local/bin:/usr/bin:/bin" } };
export const quiet_job = command("quiet_job", "/usr/local/bin/quiet-job", {
  schedule: cron("*/10 * * * *", { tz }),
  ...settings2,
});
// CRON_TZ=America/New_York  (-> the tz of the schedules below)
export const ny_backup = command("ny_backup", "/usr/local/bin/ny-backup", {
  schedule: cron("30 2 * * *", { tz: "America/New_York" }),
  ...settings2,
});
export const monday_ny = command("monday_ny", "TZ=America/New_York /usr/local/bin/monday-ny", {
  schedule: cron("0 9 * * 1", { tz: "America/New_York" }),
  ...settings2,
});
