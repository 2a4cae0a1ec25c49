import { create } from "@bufbuild/protobuf";
import { ClinicSchema, OpeningHoursSchema, Weekday, type Clinic } from "../src/gen/molar/v1/clinic_pb";

/** A saved clinic as the server would return it. */
export function savedClinic(overrides: Partial<Omit<Clinic, "$typeName">> = {}): Clinic {
  const c = create(ClinicSchema, {
    name: "서울미소치과의원",
    address: "서울특별시 강남구 테헤란로 123",
    phone: "02-555-2875",
    businessRegistrationNumber: "220-81-62517",
    timeZone: "Asia/Seoul",
    openingHours: [
      create(OpeningHoursSchema, { weekday: Weekday.MONDAY, openTime: "09:00", closeTime: "18:00", lunchStart: "13:00", lunchEnd: "14:00" }),
      create(OpeningHoursSchema, { weekday: Weekday.SATURDAY, openTime: "09:00", closeTime: "13:00" }),
    ],
    version: 3n,
  });
  return Object.assign(c, overrides);
}
