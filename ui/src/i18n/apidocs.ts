/**
 * Messages of the API reference (/docs) around the reference itself, which
 * speaks English. Mounted under the top-level key "apiDocs"; apiDocsEn must
 * have the same keys.
 */
export const apiDocsKo = {
  title: "API 참조",
  intro:
    "Molar API의 모든 메서드입니다. 메서드의 'Test Request'는 이 서버를 지금 로그인한 {name} 님으로, 그 권한 그대로 실제로 호출합니다. 데이터를 바꾸는 호출은 실제로 바꾸고 감사 기록에 남습니다. 토큰은 따로 넣지 않아도 됩니다.",
  download: "OpenAPI 문서 (JSON)",
  failed: "API 참조를 불러오지 못했습니다. 연결을 확인하고 다시 시도하세요.",
};

/** English; the type keeps its keys in step with Korean. */
export const apiDocsEn: typeof apiDocsKo = {
  title: "API reference",
  intro:
    "Every method of Molar's API. A method's 'Test Request' calls this server for real as you, {name}, with your permissions: a call that changes data changes it, and is audited. There is no token to enter.",
  download: "OpenAPI document (JSON)",
  failed: "The API reference could not be loaded. Check the connection and try again.",
};
