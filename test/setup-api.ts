// Tests load projects through src/ modules directly; the public API their task modules import
// ("fluid-tasks") is published when the entry is evaluated, as the CLI and the worker do.
import "../src/index.js";
