import { Code, ConnectError } from "@connectrpc/connect";
import type { Path } from "@bufbuild/protobuf/reflect";
import type { Violation } from "@bufbuild/protovalidate";
import { ViolationsSchema, type FieldPath } from "@bufbuild/protovalidate/gen/buf/validate/validate_pb.js";
import { type Problem as ProblemDetail, ProblemSchema } from "../gen/molar/v1/problem_pb.js";

/** One broken rule, placed by the path of its field ("clinic.opening_hours[2]"). */
export interface FieldProblem {
  field: string;
  ruleId: string;
  message: string;
}

/** What the screens need to know about a failure. */
export interface Problem {
  /** The Connect code, or Code.Unknown for failures that are not RPC errors. */
  code: Code;
  /** The server's own message, for the details line; not shown on its own. */
  detail: string;
  /** Field violations, from the server or from validation in the browser. */
  fields: FieldProblem[];
  /** The request id the server logged this under, when it said one. */
  requestId?: string;
  /** The typed detail of a refused rule or a conflict, rendered by its reason. */
  rule?: ProblemDetail;
  /** Seconds the server asked us to wait (its Retry-After header), for rate limits and lockouts. */
  retryAfter?: number;
}

/** Turns anything thrown by a client call into a Problem. */
export function toProblem(err: unknown): Problem {
  const ce = ConnectError.from(err);
  const fields: FieldProblem[] = [];
  for (const vs of ce.findDetails(ViolationsSchema)) {
    for (const v of vs.violations) {
      fields.push({ field: fieldPathString(v.field), ruleId: v.ruleId ?? "", message: v.message ?? "" });
    }
  }
  const requestId = ce.metadata.get("x-request-id") ?? /\(request ([\w.-]+)\)/.exec(ce.rawMessage)?.[1];
  const retryAfter = retryAfterSeconds(ce.metadata.get("retry-after"));
  const rule = ce.findDetails(ProblemSchema)[0];
  // A request that never reached the server (the network is down) is
  // "cannot reach the server", not an unknown error.
  const unreachable =
    ce.code === Code.Unknown && (globalThis.navigator?.onLine === false || /failed to fetch|networkerror|load failed|network error/i.test(ce.rawMessage));
  return { code: unreachable ? Code.Unavailable : ce.code, detail: ce.rawMessage, fields, requestId: requestId ?? undefined, retryAfter, rule };
}

/** Seconds from a Retry-After value: either delay-seconds or an HTTP date. */
export function retryAfterSeconds(value: string | null, now = Date.now()): number | undefined {
  if (!value) return undefined;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed);
  const at = Date.parse(trimmed);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, Math.ceil((at - now) / 1000));
}

/** A Problem for violations found by validating in the browser before sending. */
export function problemFromViolations(violations: Violation[]): Problem {
  return {
    code: Code.InvalidArgument,
    detail: violations.map((v) => v.toString()).join("; "),
    fields: violations.map((v) => ({ field: pathString(v.field), ruleId: v.ruleId, message: v.message })),
  };
}

/** "a.b[2].c" from the server's field path. */
export function fieldPathString(fp: FieldPath | undefined): string {
  let s = "";
  for (const el of fp?.elements ?? []) {
    s += (s ? "." : "") + (el.fieldName ?? "");
    if (el.subscript.case === "index") s += `[${el.subscript.value}]`;
    else if (el.subscript.case !== undefined) s += `[${String(el.subscript.value)}]`;
  }
  return s;
}

/** "a.b[2].c" from a protovalidate path in the browser. */
export function pathString(path: Path): string {
  let s = "";
  for (const p of path) {
    if (p.kind === "list_sub") s += `[${p.index}]`;
    else if (p.kind === "map_sub") s += `[${String(p.key)}]`;
    else s += (s ? "." : "") + p.name;
  }
  return s;
}

/** The problems of one field, or of a list element and everything inside it. */
export function problemsAt(problem: Problem | null, field: string): FieldProblem[] {
  if (!problem) return [];
  return problem.fields.filter((f) => f.field === field || f.field.startsWith(field + ".") || f.field.startsWith(field + "["));
}
