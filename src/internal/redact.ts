/**
 * URLs in text, cut to their scheme and host. Node providers put API keys in the path, the query or the
 * user part of an RPC URL, and viem writes the URL into the message of every failed request: any text
 * that may reach a log or an answer goes through here first.
 */
const URL_PATTERN = /\b(?:https?|wss?):\/\/[^\s"'<>`]+/gi;

export function redactUrls(text: string): string {
  return text.replace(URL_PATTERN, (found) => {
    try {
      const url = new URL(found);
      const hidden = url.username || url.password || url.search || (url.pathname && url.pathname !== '/');
      return `${url.protocol}//${url.host}${hidden ? '/[redacted]' : ''}`;
    } catch {
      return '[redacted url]';
    }
  });
}
