// The upload URL of one image: the template with {booth_id}, {booking_id} and {file} replaced,
// each value percent-encoded as a path segment (spaces, unicode, #, %, ? all survive the trip).

/** RFC 3986 percent-encoding of a path segment (encodeURIComponent leaves !'()* as they are). */
export function encodeSegment(value: string): string {
  return encodeURIComponent(value).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

export function uploadUrl(template: string, boothId: string, bookingId: string, file: string): string {
  const values: Record<string, string> = { booth_id: boothId, booking_id: bookingId, file };
  return template.replace(/\{(booth_id|booking_id|file)\}/g, (_, key: string) => encodeSegment(values[key]!));
}
