/**
 * ES module source lines that export the properties `names` of the object in the variable
 * `from` under the same names. Local bindings are numbered, so names that are reserved words
 * (zod exports `null`, `enum`, `function`...) are fine as export names. Each property is read
 * by a call marked pure, so a bundler drops the exports a module does not import (a task
 * module importing `z` and `task` does not carry the other ~400 names of zod and the API).
 */
export function exportProperties(from: string, names: string[]): string {
  const valid = names.filter((n) => n !== "default" && n !== "__esModule" && /^[A-Za-z_$][\w$]*$/.test(n));
  const locals = valid.map((n, i) => `__e${i} = /* @__PURE__ */ __property(${from}, ${JSON.stringify(n)})`);
  const list = valid.map((n, i) => `__e${i} as ${n}`);
  return valid.length === 0 ? "" : `const __property = (o, k) => o[k];\nconst ${locals.join(", ")};\nexport { ${list.join(", ")} };\n`;
}
