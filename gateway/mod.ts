/** The gateway's composition root: starting it from a config, and the `serve` command. */
export { freePort, type Gateway, type GatewayOptions, startGateway } from "./gateway.ts";
export { embeddedDefault, serveCommand } from "./serve_command.ts";
