/**
 * ES module source lines that export the properties `names` of the object in the variable
 * `from` under the same names. Local bindings are numbered, so names that are reserved words
 * (zod exports `null`, `enum`, `function`...) are fine as export names.
 */
export function exportProperties(from: string, names: string[]): string {
  const valid = names.filter((n) => n !== "default" && n !== "__esModule" && /^[A-Za-z_$][\w$]*$/.test(n));
  const locals = valid.map((n, i) => `__e${i} = ${from}[${JSON.stringify(n)}]`);
  const list = valid.map((n, i) => `__e${i} as ${n}`);
  return valid.length === 0 ? "" : `const ${locals.join(", ")};\nexport { ${list.join(", ")} };\n`;
}
