import { describe, expect, it } from "vitest";
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, createRouterTransport } from "@connectrpc/connect";
import { ClinicService, UpdateClinicResponseSchema, type UpdateClinicRequest } from "../src/gen/molar/v1/clinic_pb";
import { useClinicStore } from "../src/stores/clinic";
import { piniaWith } from "./helpers";
import { savedClinic } from "./fixtures";

function fakeServer(onUpdate: (req: UpdateClinicRequest) => void = () => {}) {
  return createRouterTransport(({ service }) => {
    service(ClinicService, {
      getClinic: () => ({ clinic: savedClinic() }),
      updateClinic: (req) => {
        onUpdate(req);
        if (req.clinic!.version !== 3n) throw new ConnectError("changed by someone else", Code.Aborted);
        return create(UpdateClinicResponseSchema, { clinic: { ...req.clinic!, version: 4n } });
      },
    });
  });
}

describe("clinic store", () => {
  it("loads the clinic", async () => {
    piniaWith(fakeServer());
    const store = useClinicStore();
    await store.load();
    expect(store.clinic?.name).toBe("서울미소치과의원");
    expect(store.loading).toBe(false);
    expect(store.loadProblem).toBeNull();
  });

  it("saves and keeps the server's version", async () => {
    piniaWith(fakeServer());
    const store = useClinicStore();
    await store.load();
    const ok = await store.save({ ...store.clinic!, name: "새이름치과" });
    expect(ok).toBe(true);
    expect(store.clinic?.version).toBe(4n);
    expect(store.clinic?.name).toBe("새이름치과");
  });

  it("does not send what the schema rejects", async () => {
    let calls = 0;
    piniaWith(fakeServer(() => calls++));
    const store = useClinicStore();
    await store.load();
    const ok = await store.save({ ...store.clinic!, phone: "not a phone" });
    expect(ok).toBe(false);
    expect(calls).toBe(0);
    expect(store.saveProblem?.code).toBe(Code.InvalidArgument);
    expect(store.saveProblem?.fields.map((f) => f.field)).toEqual(["clinic.phone"]);
  });

  it("reports a lost race as Aborted and keeps the loaded clinic", async () => {
    piniaWith(fakeServer());
    const store = useClinicStore();
    await store.load();
    const ok = await store.save({ ...store.clinic!, version: 2n });
    expect(ok).toBe(false);
    expect(store.saveProblem?.code).toBe(Code.Aborted);
    expect(store.clinic?.version).toBe(3n);
  });

  it("reports a load failure", async () => {
    piniaWith(
      createRouterTransport(({ service }) => {
        service(ClinicService, {
          getClinic: () => {
            throw new ConnectError("down", Code.Unavailable);
          },
          updateClinic: () => {
            throw new ConnectError("down", Code.Unavailable);
          },
        });
      }),
    );
    const store = useClinicStore();
    await store.load();
    expect(store.clinic).toBeNull();
    expect(store.loadProblem?.code).toBe(Code.Unavailable);
  });
});
