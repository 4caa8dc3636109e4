/**
 * Every request fixture in tests/fixtures/requests/{valid,invalid}/ fed every way (see
 * `_helpers.ts` for the format and for how fixtures are loaded with no permissions).
 *
 * The fixtures come from the generated `tests/fixtures/requests/index.ts`. To add a fixture:
 * write NNN_short_name.http and .json, then run `deno task fixtures` to regenerate the index
 * (`tests/fixtures/requests/_gen_test.ts`, in the full suite, fails while it is stale).
 */
import assert from "node:assert/strict";
import {
  decodeEscapes,
  type Fixture,
  type InvalidExpectation,
  runInvalidFixture,
  runValidFixture,
  type ValidExpectation,
} from "./_helpers.ts";
import { INVALID_FILES, VALID_FILES } from "../../fixtures/requests/index.ts";

const VALID: Fixture<ValidExpectation>[] = VALID_FILES.map(([name, http, expect]) => ({
  name,
  http,
  expect: expect as ValidExpectation,
}));
const INVALID: Fixture<InvalidExpectation>[] = INVALID_FILES.map(([name, http, expect]) => ({
  name,
  http,
  expect: expect as InvalidExpectation,
}));

for (const fixture of VALID) {
  Deno.test(`parses fixture valid/${fixture.name}`, () => runValidFixture(fixture));
}

for (const fixture of INVALID) {
  const { status, code } = fixture.expect;
  Deno.test(`rejects fixture invalid/${fixture.name} with ${status} ${code}`, () => {
    runInvalidFixture(fixture);
  });
}

Deno.test("fixture names are numbered NNN_snake_case without gaps", () => {
  for (const list of [VALID, INVALID]) {
    list.forEach((f, i) => {
      assert.match(f.name, /^\d{3}_[a-z0-9_]+$/);
      assert.equal(Number(f.name.slice(0, 3)), i + 1, `${f.name} is number ${i + 1}`);
    });
  }
});

Deno.test("fixture files decode with the escape convention", () => {
  for (const f of [...VALID, ...INVALID]) decodeEscapes(f.http);
  assert.ok(VALID.length + INVALID.length >= 60);
});
