/** The Responses and Conversations APIs: the translation to and from chat completions, and their routes on durable sessions. */
export * from "./schemas.ts";
export * from "./to_chat.ts";
export * from "./from_chat.ts";
export * from "./stream.ts";
export * from "./ids.ts";
export * from "./turn_items.ts";
export { responsesRoutes, type ResponsesRouteServices } from "./routes.ts";
