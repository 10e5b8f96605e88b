/** The gateway's composition root: starting it from a config, and the `serve` command. */
export { type Gateway, type GatewayOptions, startGateway } from "./gateway.ts";
export { EMBEDDED_MODEL, embeddedDefault, serveCommand } from "./serve_command.ts";
