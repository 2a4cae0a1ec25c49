import { describe, expect, it } from "vitest";
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { createValidator } from "@bufbuild/protovalidate";
import { ViolationsSchema } from "@bufbuild/protovalidate/gen/buf/validate/validate_pb.js";
import { fieldPathString, problemFromViolations, problemsAt, toProblem } from "../src/api/errors";
import { UpdateClinicRequestSchema } from "../src/gen/molar/v1/clinic_pb";
import { savedClinic } from "./fixtures";

describe("toProblem", () => {
  it("keeps the code and places server violations by field path", () => {
    const detail = create(ViolationsSchema, {
      violations: [
        {
          field: { elements: [{ fieldName: "clinic" }, { fieldName: "opening_hours", subscript: { case: "index", value: 2n } }] },
          ruleId: "opening_hours.order",
          message: "opening time must be before closing time",
        },
      ],
    });
    const err = new ConnectError("invalid", Code.InvalidArgument, undefined, [{ desc: ViolationsSchema, value: detail }]);
    const p = toProblem(err);
    expect(p.code).toBe(Code.InvalidArgument);
    expect(p.fields).toEqual([
      { field: "clinic.opening_hours[2]", ruleId: "opening_hours.order", message: "opening time must be before closing time" },
    ]);
    expect(problemsAt(p, "clinic.opening_hours[2]")).toHaveLength(1);
    expect(problemsAt(p, "clinic.opening_hours[1]")).toHaveLength(0);
  });

  it("finds the request id in an internal error", () => {
    const p = toProblem(new ConnectError("internal error (request abc123)", Code.Internal));
    expect(p.requestId).toBe("abc123");
  });

  it("treats anything thrown as a problem", () => {
    const p = toProblem(new RangeError("out of range"));
    expect(p.code).toBe(Code.Unknown);
    expect(p.fields).toEqual([]);
    // fetch's own failure means the server was never reached.
    expect(toProblem(new TypeError("Failed to fetch")).code).toBe(Code.Unavailable);
  });
});

describe("browser validation", () => {
  it("reports the schema's rules with the same paths as the server", () => {
    const req = create(UpdateClinicRequestSchema, { clinic: savedClinic({ phone: "12345", name: "" }) });
    const result = createValidator().validate(UpdateClinicRequestSchema, req);
    expect(result.kind).toBe("invalid");
    if (result.kind !== "invalid") return;
    const p = problemFromViolations(result.violations);
    expect(p.code).toBe(Code.InvalidArgument);
    const fields = p.fields.map((f) => `${f.field}:${f.ruleId}`).sort();
    expect(fields).toEqual(["clinic.name:string.min_len", "clinic.phone:string.pattern"]);
  });

  it("checks cross-field rules on opening hours", () => {
    const c = savedClinic();
    c.openingHours[0]!.openTime = "19:00";
    const result = createValidator().validate(UpdateClinicRequestSchema, create(UpdateClinicRequestSchema, { clinic: c }));
    expect(result.kind).toBe("invalid");
    if (result.kind !== "invalid") return;
    expect(problemFromViolations(result.violations).fields.map((f) => f.field + ":" + f.ruleId)).toContain(
      "clinic.opening_hours[0]:opening_hours.order",
    );
  });
});

describe("fieldPathString", () => {
  it("is empty without a path", () => {
    expect(fieldPathString(undefined)).toBe("");
  });
});

describe("unreachable server", () => {
  it("calls a request that never reached the server unavailable, not unknown", () => {
    expect(toProblem(new ConnectError("Failed to fetch", Code.Unknown)).code).toBe(Code.Unavailable);
    expect(toProblem(new ConnectError("something odd", Code.Unknown)).code).toBe(Code.Unknown);
  });
});
