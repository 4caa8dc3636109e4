/**
 * PLACEHOLDER (being written for issue #5): the worker-process supervisor.
 */
import type { Config } from "./config.ts";
import { EXIT_USAGE } from "./config.ts";
import type { Logger } from "./log.ts";

/** Environment variable that marks a process as a worker spawned by the supervisor. */
export const WORKER_ENV = "LSBAWS_WORKER";

/** Runs the supervisor; resolves to the exit code. */
export function runSupervisor(
  _args: readonly string[],
  _config: Config,
  opts: { logger: Logger; deps: { stderr: { write(t: string): void } } },
): Promise<number> {
  opts.deps.stderr.write("lsbaws: --workers > 1 is not implemented yet\n");
  return Promise.resolve(EXIT_USAGE);
}
