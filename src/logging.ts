/** The one winston logger; every module takes a child with its name. */
import winston from 'winston';

const root = winston.createLogger({
  level: process.env.VECHE_LOG_LEVEL ?? 'info',
  format: winston.format.combine(
    winston.format.timestamp(),
    process.stdout.isTTY && !process.env.VECHE_LOG_JSON
      ? winston.format.printf(({ timestamp, level, message, module, ...rest }) => {
          const fields = Object.keys(rest).length ? ' ' + JSON.stringify(rest) : '';
          return `${timestamp} ${level} [${module ?? 'veche'}] ${message}${fields}`;
        })
      : winston.format.json(),
  ),
  transports: [new winston.transports.Console({ stderrLevels: ['error', 'warn'] })],
});

export type Logger = winston.Logger;

export function getLogger(module: string): Logger {
  return root.child({ module });
}

export function setLogLevel(level: string): void {
  root.level = level;
}
