import { defineConfig } from "fluid-tasks";

export default defineConfig({
  // Task modules, relative to this file. Every exported task() is registered.
  tasks: ["./tasks/*.ts"],
});
