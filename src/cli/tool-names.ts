// The offline tools' names (tools.ts runs them): main.ts tells a tool run
// from a server start by its first argument without loading the tools.

export const tool_names = ['inspect', 'compact', 'replay', 'dump', 'load'] as const;
export type ToolName = (typeof tool_names)[number];

export function isToolName(word: string | undefined): word is ToolName {
  return (tool_names as readonly string[]).includes(word ?? '');
}
