export const FLEET_PACKAGE = '@kd/fleet';
