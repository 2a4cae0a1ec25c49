import { describe, expect, it } from "vitest";
import { create } from "@bufbuild/protobuf";
import { createValidator } from "@bufbuild/protovalidate";
import { PatientInputSchema, Sex } from "../src/gen/molar/v1/patient_pb";

describe("printable text", () => {
  it("is checked in the browser too: an override or a control character is refused before sending, an ordinary name passes", () => {
    const v = createValidator();
    const check = (name: string) => v.validate(PatientInputSchema, create(PatientInputSchema, { name, sex: Sex.MALE, birthDate: "1980-01-01" }));
    for (const bad of ["홍길\u202e동", "홍길동\u0000", "홍\u001b[31m길동", "홍길동\r\n", "홍\u2066길동"]) {
      const r = check(bad);
      expect(r.kind).toBe("invalid");
      if (r.kind === "invalid") expect(r.violations.map((x) => x.ruleId)).toContain("text.printable");
    }
    expect(check("남궁 O'Brien-민수").kind).toBe("valid");
  });
});
