/** The gateway's release version, shown by `/health/detailed` and `turnpike_build_info`. */
export const TURNPIKE_VERSION = "0.1.0";
