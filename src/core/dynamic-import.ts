const HOST_IMPORT = Symbol.for("fluid-tasks.import");

type Import = (specifier: string) => Promise<unknown>;

/**
 * `import(specifier)` for code that may run from the code cache (src/startup/code-cache.ts):
 * Node 20 supports `import()` inside a `vm.Script` only behind --experimental-vm-modules, so
 * such code imports through a function a real module provides (see provideImport). The seam
 * between the domain and start-up: domain modules import lazily through this, and the CLI's
 * boot (src/cli/boot.ts) provides the real `import()`.
 */
export function importModule(specifier: string): Promise<unknown> {
  const host = (globalThis as Record<symbol, unknown>)[HOST_IMPORT] as Import | undefined;
  return host ? host(specifier) : import(specifier);
}

/** Installs the `import()` of a real ES module for importModule. */
export function provideImport(fn: Import): void {
  (globalThis as Record<symbol, unknown>)[HOST_IMPORT] = fn;
}
