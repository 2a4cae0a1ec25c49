import { describe, expect, it } from "vitest";
import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { createValidator } from "@bufbuild/protovalidate";
import { BookAppointmentRequestSchema } from "../src/gen/molar/v1/schedule_pb";
import { GetDailyClosingRequestSchema } from "../src/gen/molar/v1/billing_pb";

describe("schedule and closing rules in the browser", () => {
  const v = createValidator();
  const book = (d: Date) =>
    v.validate(
      BookAppointmentRequestSchema,
      create(BookAppointmentRequestSchema, { patientId: "p", providerId: "dr-kim", chairId: "chair-1", startTime: timestampFromDate(d), minutes: 30 }),
    );
  const rules = (r: { kind: string; violations?: { ruleId: string }[] }) => (r.kind === "invalid" ? (r.violations ?? []).map((x) => x.ruleId) : []);

  it("takes a booking on the 5-minute grid within 2000-2099 and refuses one off it or outside", () => {
    expect(book(new Date("2026-12-07T01:05:00Z")).kind).toBe("valid");
    expect(rules(book(new Date("2026-12-07T01:05:00.500Z")))).toContain("schedule.grid");
    expect(rules(book(new Date("2026-12-07T01:07:00Z")))).toContain("schedule.grid");
    expect(rules(book(new Date("2026-12-07T01:05:30Z")))).toContain("schedule.grid");
    expect(rules(book(new Date("1999-12-31T15:00:00Z")))).toContain("timestamp.gte_lt");
    expect(rules(book(new Date("2100-01-01T00:00:00Z")))).toContain("timestamp.gte_lt");
  });

  it("refuses a closing whose last day is before its first, or a date that is no date", () => {
    const closing = (startDate: string, endDate: string) =>
      v.validate(GetDailyClosingRequestSchema, create(GetDailyClosingRequestSchema, { startDate, endDate }));
    expect(closing("2026-12-01", "2026-12-06").kind).toBe("valid");
    expect(rules(closing("2026-12-06", "2026-12-01"))).toContain("dates.order");
    expect(rules(closing("2026-13-01", "2026-13-02"))).toContain("string.pattern");
  });
});
