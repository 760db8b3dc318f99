export { parseConfig, type Config } from './config.ts';
