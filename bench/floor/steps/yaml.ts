// The ladder's yaml step: the config read from YAML, as the agent reads its file.
import { parse } from 'yaml';

export const readYaml = (text: string): unknown => parse(text);
