import assert from "node:assert/strict";
import {
  CommandTemplateError,
  commandTemplateOf,
  DEFAULT_COMMAND_TEMPLATE,
  placeholdersIn,
  renderCommand,
  splitCommand,
} from "./command_template.ts";

Deno.test("splitCommand() splits on whitespace and honours single quotes, double quotes and backslashes", () => {
  assert.deepEqual(splitCommand("  a  b\tc\n"), ["a", "b", "c"]);
  assert.deepEqual(splitCommand(`run 'a b' "c d" e\\ f`), ["run", "a b", "c d", "e f"]);
  assert.deepEqual(splitCommand(`x 'it''s' "say \\"hi\\" \\$HOME \\n"`), [
    "x",
    "its",
    'say "hi" $HOME \\n',
  ]);
  assert.deepEqual(splitCommand(`x '' ""`), ["x", "", ""], "empty quotes are an empty argument");
  assert.deepEqual(splitCommand(`x a"b c"d`), ["x", "ab cd"]);
});

Deno.test("splitCommand() runs nothing: shell syntax stays literal text", () => {
  assert.deepEqual(splitCommand("echo $(rm -rf /); ls | wc > out && `id`"), [
    "echo",
    "$(rm",
    "-rf",
    "/);",
    "ls",
    "|",
    "wc",
    ">",
    "out",
    "&&",
    "`id`",
  ]);
});

Deno.test("splitCommand() rejects an unclosed quote, a trailing backslash and an empty command", () => {
  assert.throws(() => splitCommand(`a "b`), CommandTemplateError);
  assert.throws(() => splitCommand(`a 'b`), /unclosed ' quote/);
  assert.throws(() => splitCommand("a \\"), /lone backslash/);
  assert.throws(() => splitCommand("   "), /is empty/);
});

Deno.test("renderCommand() fills placeholders inside words without re-splitting the values", () => {
  assert.deepEqual(
    renderCommand("serve {model_path} --port={port} --name '{name}'", {
      model_path: "/m/a b; rm -rf /",
      port: 5901,
      name: "x y",
    }),
    ["serve", "/m/a b; rm -rf /", "--port=5901", "--name", "x y"],
  );
  assert.deepEqual(renderCommand(`x --json '{"a": 1}'`, {}), ["x", "--json", '{"a": 1}']);
});

Deno.test("renderCommand() rejects an unknown placeholder and one without a value", () => {
  assert.throws(() => renderCommand("x {prot}", { port: 1 }), /unknown placeholder \{prot\}/);
  assert.throws(
    () => renderCommand("x {model_path}", {}),
    /uses \{model_path\} but the model has no/,
  );
});

Deno.test("placeholdersIn() lists each placeholder once, unknown ones included", () => {
  assert.deepEqual(placeholdersIn("{port} {name} {port} {nope}"), ["port", "name", "nope"]);
});

Deno.test("commandTemplateOf() adds --max-model-len to the default template only when it is set", () => {
  assert.equal(commandTemplateOf({}), DEFAULT_COMMAND_TEMPLATE);
  assert.match(commandTemplateOf({ max_model_len: 8192 }), / --max-model-len \{max_model_len\}$/);
  assert.equal(commandTemplateOf({ command: "x {port}", max_model_len: 8192 }), "x {port}");
});

Deno.test("commandTemplateOf() adds --scheduling-policy priority to the default template for a priority model", () => {
  assert.match(
    commandTemplateOf({ scheduling_policy: "priority" }),
    / --scheduling-policy priority$/,
  );
  assert.equal(commandTemplateOf({ scheduling_policy: "fcfs" }), DEFAULT_COMMAND_TEMPLATE);
  assert.equal(
    commandTemplateOf({ command: "x {port}", scheduling_policy: "priority" }),
    "x {port}",
  );
});
