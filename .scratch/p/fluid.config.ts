import { defineConfig } from "fluid-tasks";
export default defineConfig({ crontabs: ["./jobs.cron"], timezone: "Europe/London" });
