import type { DescMessage, MessageShape } from "@bufbuild/protobuf";
import type { Validator } from "@bufbuild/protovalidate";
import { problemFromViolations, type Problem } from "./errors";

let validator: Promise<Validator> | undefined;

/**
 * Checks req against the schema's rules in the browser before it is sent:
 * the problem to show next to the fields, or null when req keeps them. The
 * validator (a CEL interpreter, the largest script of the app) is fetched on
 * the first check, so screens that only read, and the sign-in page, never
 * download it. Should it fail to arrive, req goes to the server, which checks
 * the same rules.
 */
export async function schemaProblem<D extends DescMessage>(schema: D, req: MessageShape<D>): Promise<Problem | null> {
  validator ??= import("@bufbuild/protovalidate").then((m) => m.createValidator());
  let v: Validator;
  try {
    v = await validator;
  } catch {
    validator = undefined;
    return null;
  }
  const checked = v.validate(schema, req);
  return checked.kind === "invalid" ? problemFromViolations(checked.violations) : null;
}
