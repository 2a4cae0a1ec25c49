import { describe, expect, it } from "vitest";
import { clinicOf, draftOf, formatBusinessNumber, formatPhone } from "../src/components/clinic/draft";
import { Weekday } from "../src/gen/molar/v1/clinic_pb";
import { savedClinic } from "./fixtures";

describe("clinic draft", () => {
  it("gives every weekday a row and round-trips", () => {
    const c = savedClinic();
    const d = draftOf(c);
    expect(d.days).toHaveLength(7);
    expect(d.days.filter((r) => r.open).map((r) => r.weekday)).toEqual([Weekday.MONDAY, Weekday.SATURDAY]);
    const { clinic, hoursIndex } = clinicOf(d);
    expect(clinic.openingHours.map((h) => [h.weekday, h.openTime, h.closeTime, h.lunchStart])).toEqual([
      [Weekday.MONDAY, "09:00", "18:00", "13:00"],
      [Weekday.SATURDAY, "09:00", "13:00", ""],
    ]);
    expect(clinic.version).toBe(3n);
    expect(hoursIndex.get(Weekday.SATURDAY)).toBe(1);
  });

  it("maps rows to the index their hours take when days are switched on", () => {
    const d = draftOf(savedClinic());
    d.days[2]!.open = true; // Wednesday
    const { hoursIndex } = clinicOf(d);
    expect([...hoursIndex.entries()]).toEqual([
      [Weekday.MONDAY, 0],
      [Weekday.WEDNESDAY, 1],
      [Weekday.SATURDAY, 2],
    ]);
  });
});

describe("formatting while typing", () => {
  it.each([
    ["0212345678", "02-1234-5678"],
    ["021234567", "02-123-4567"],
    ["01012345678", "010-1234-5678"],
    ["0311234567", "031-123-4567"],
    ["15881234", "1588-1234"],
    ["010-1234-5678", "010-1234-5678"],
    ["12", "12"],
  ])("phone %s → %s", (input, want) => {
    expect(formatPhone(input)).toBe(want);
  });

  it("formats business numbers", () => {
    expect(formatBusinessNumber("2208162517")).toBe("220-81-62517");
    expect(formatBusinessNumber("220")).toBe("220");
  });
});
