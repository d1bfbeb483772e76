// The ladder's winston step: the log line written by a winston JSON logger, as the agent's is.
import winston from 'winston';

const logger = winston.createLogger({ format: winston.format.combine(winston.format.timestamp(), winston.format.json()), transports: [new winston.transports.Console()] });
export const winstonLog = (message: string): void => void logger.info(message);
