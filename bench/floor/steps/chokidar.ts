// The ladder's chokidar step: a folder watched, as the agent watches the photo outbox.
import { watch } from 'chokidar';

export function watchFolder(dir: string): void {
  watch(dir, { ignoreInitial: true, depth: 0 });
}
