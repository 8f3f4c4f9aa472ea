// The run-now form, generated from a task's params JSON schema (made from its zod schema by the
// daemon). The daemon validates with zod (the one authority): the form is `novalidate`, and a
// 422's zod issues are shown next to the fields they name.
import { h, replace } from "./dom.js";

/** The schema without a `null` alternative (a nullable field), and whether there was one. */
function unwrapNullable(schema) {
  const alts = schema.anyOf ?? schema.oneOf;
  if (Array.isArray(alts)) {
    const rest = alts.filter((s) => s.type !== "null");
    if (rest.length === 1 && rest.length < alts.length) return { schema: { ...rest[0], ...pick(schema, ["description", "default", "title"]) }, nullable: true };
  }
  if (Array.isArray(schema.type) && schema.type.includes("null")) {
    const types = schema.type.filter((t) => t !== "null");
    if (types.length === 1) return { schema: { ...schema, type: types[0] }, nullable: true };
  }
  return { schema, nullable: false };
}

function pick(obj, keys) {
  return Object.fromEntries(keys.filter((k) => obj[k] !== undefined).map((k) => [k, obj[k]]));
}

/** How a field is edited: "enum", "boolean", "number", "integer", "string" or "json" (anything else, typed as JSON). */
function kindOf(schema) {
  if (Array.isArray(schema.enum) && schema.enum.every((v) => ["string", "number", "boolean"].includes(typeof v))) return "enum";
  if (schema.const !== undefined && ["string", "number", "boolean"].includes(typeof schema.const)) return "enum";
  if (schema.type === "boolean") return "boolean";
  if (schema.type === "integer") return "integer";
  if (schema.type === "number") return "number";
  if (schema.type === "string") return "string";
  return "json";
}

/** One field of the form: its schema, the control and how to read a value from it. */
function field(name, rawSchema, required, idPrefix) {
  const { schema } = unwrapNullable(rawSchema);
  const kind = kindOf(schema);
  const id = `${idPrefix}-${name}`;
  const hasDefault = schema.default !== undefined;
  const optional = !required || hasDefault;
  const helpId = `${id}-help`;
  const errorId = `${id}-error`;
  const describedBy = [schema.description ? helpId : null, errorId].filter(Boolean).join(" ");
  let control;
  /** The value to send, or `undefined` to leave the param out (zod applies the default). */
  let read;
  if (kind === "enum") {
    const values = schema.enum ?? [schema.const];
    control = h("select", { id, name, "aria-describedby": describedBy },
      optional ? h("option", { value: "" }, hasDefault ? `(default: ${String(schema.default)})` : "(not set)") : null,
      values.map((v, i) => h("option", { value: String(i) }, String(v))));
    if (!optional && values.length > 0) control.value = "0";
    read = () => (control.value === "" ? undefined : values[Number(control.value)]);
  } else if (kind === "boolean" && !optional) {
    control = h("input", { id, name, type: "checkbox", "aria-describedby": describedBy });
    read = () => control.checked;
  } else if (kind === "boolean") {
    // Optional: three choices, so "not set" (the default applies) differs from false.
    control = h("select", { id, name, "aria-describedby": describedBy },
      h("option", { value: "" }, hasDefault ? `(default: ${String(schema.default)})` : "(not set)"),
      h("option", { value: "true" }, "true"),
      h("option", { value: "false" }, "false"));
    read = () => (control.value === "" ? undefined : control.value === "true");
  } else if (kind === "number" || kind === "integer") {
    control = h("input", {
      id, name, type: "text", inputmode: kind === "integer" ? "numeric" : "decimal", autocomplete: "off",
      placeholder: hasDefault ? String(schema.default) : optional ? "(not set)" : "",
      "aria-describedby": describedBy, "aria-required": optional ? null : "true",
    });
    // Sent as a number when it is one; otherwise as typed, so zod says what is wrong with it.
    read = () => {
      const text = control.value.trim();
      if (text === "") return undefined;
      const n = Number(text);
      return Number.isFinite(n) ? n : text;
    };
  } else if (kind === "string") {
    const long = (schema.maxLength ?? 0) > 200;
    control = h(long ? "textarea" : "input", {
      id, name, type: long ? null : schema.format === "email" ? "email" : "text", autocomplete: "off",
      placeholder: hasDefault ? String(schema.default) : schema.format === "date-time" ? "2026-01-31T12:00:00Z" : optional ? "(not set)" : "",
      "aria-describedby": describedBy, "aria-required": optional ? null : "true",
    });
    // An empty required string is sent (zod decides whether "" is allowed); an empty optional one is left out.
    read = () => (control.value === "" && optional ? undefined : control.value);
  } else {
    control = h("textarea", {
      id, name, rows: 3, class: "mono", spellcheck: "false",
      placeholder: hasDefault ? JSON.stringify(schema.default) : "JSON, e.g. [\"a\", \"b\"]",
      "aria-describedby": describedBy, "aria-required": optional ? null : "true",
    });
    read = () => {
      const text = control.value.trim();
      if (text === "") return undefined;
      try {
        return JSON.parse(text);
      } catch {
        return text; // zod reports the type it expected
      }
    };
  }
  const label = h("label", { for: id }, schema.title ?? name, optional ? h("span", { class: "muted" }, " (optional)") : h("span", { class: "req", "aria-hidden": "true" }, " *"));
  const typeNote = kind === "json" ? describeJsonKind(schema) : kind === "integer" ? "whole number" : kind === "number" ? "number" : null;
  const range = [schema.minimum !== undefined ? `≥ ${schema.minimum}` : null, schema.maximum !== undefined ? `≤ ${schema.maximum}` : null].filter(Boolean).join(", ");
  const help = schema.description || typeNote || range
    ? h("p", { class: "help", id: helpId }, [schema.description, [typeNote, range].filter(Boolean).join(", ")].filter(Boolean).join(" · "))
    : null;
  if (help && !schema.description) control.setAttribute("aria-describedby", `${helpId} ${errorId}`);
  const error = h("p", { class: "field-error", id: errorId, role: "alert", hidden: true });
  const row = h("div", { class: `field field-${kind}`, "data-field": name }, kind === "boolean" && !optional ? [control, label] : [label, control], help, error);
  return { name, row, control, error, read };
}

function describeJsonKind(schema) {
  if (schema.type === "array") return "a JSON array";
  if (schema.type === "object") return "a JSON object";
  return "a JSON value";
}

/**
 * Builds the form for `schema` (a JSON schema of an object). `onSubmit(params)` is called with
 * the params to send and may throw an ApiError; its 422 issues are shown by the fields.
 * Returns the <form>.
 */
export function paramsForm(schema, onSubmit, { idPrefix = "param", submitLabel = "Run now" } = {}) {
  const props = schema?.properties ?? {};
  const required = new Set(schema?.required ?? []);
  const fields = Object.entries(props).map(([name, s]) => field(name, s ?? {}, required.has(name), idPrefix));
  const formError = h("div", { class: "form-error", role: "alert", hidden: true });
  const button = h("button", { type: "submit", class: "primary" }, submitLabel);
  const form = h("form", { class: "params-form", novalidate: true },
    fields.length === 0 ? h("p", { class: "muted" }, "This task takes no params.") : fields.map((f) => f.row),
    formError,
    h("div", { class: "actions" }, button));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearIssues(fields, formError);
    const params = {};
    for (const f of fields) {
      const value = f.read();
      if (value !== undefined) params[f.name] = value;
    }
    button.disabled = true;
    form.setAttribute("aria-busy", "true");
    try {
      await onSubmit(params);
    } catch (error) {
      showIssues(fields, formError, error);
    } finally {
      button.disabled = false;
      form.removeAttribute("aria-busy");
    }
  });
  return form;
}

function clearIssues(fields, formError) {
  for (const f of fields) {
    f.error.hidden = true;
    f.error.replaceChildren();
    f.control.removeAttribute("aria-invalid");
  }
  formError.hidden = true;
  formError.replaceChildren();
}

/** Puts each zod issue by the field its path starts with; the rest (and any other error) above the button. */
function showIssues(fields, formError, error) {
  const byName = new Map(fields.map((f) => [f.name, f]));
  const rest = [];
  let first;
  for (const issue of error.issues ?? []) {
    const path = Array.isArray(issue.path) ? issue.path : [];
    const f = byName.get(String(path[0]));
    const text = `${path.length > 1 ? `${path.slice(1).join(".")}: ` : ""}${issue.message}`;
    if (!f) {
      rest.push(`${path.length ? `${path.join(".")}: ` : ""}${issue.message}`);
      continue;
    }
    f.error.hidden = false;
    f.error.append(h("span", {}, text), " ");
    f.control.setAttribute("aria-invalid", "true");
    first ??= f.control;
  }
  if (rest.length > 0 || (error.issues ?? []).length === 0) {
    formError.hidden = false;
    replace(formError,
      h("strong", {}, error.status === 422 ? "Invalid params" : "Could not queue the run"), ": ",
      rest.length > 0 ? rest.join("; ") : error.message,
      error.hint ? h("span", { class: "muted" }, ` (${error.hint})`) : null);
  }
  first?.focus();
}
