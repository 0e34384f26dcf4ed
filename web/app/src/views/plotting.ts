/**
 * How views get their plots drawn: plots.ts (Observable Plot, d3), a chunk of its own loaded once the
 * first view asks for it, and what a box shows in place of a plot that could not be drawn.
 */
type Plots = typeof import('./plots.ts');

let loading: Promise<Plots> | undefined;

/** The plotting code, loaded once: a view calls it as soon as it knows it will plot, to have it when the data comes. */
export function loadPlots(): Promise<Plots> {
  loading ??= import('./plots.ts').catch((error: unknown) => {
    // Asked again on the next call: a session that ended meanwhile, say, has the chunk refused until login.
    loading = undefined;
    throw error;
  });
  return loading;
}

/** In place of a plot that could not be drawn (its code not loaded: the session ended, the server stopped): why. */
export function notDrawn(what: string, error: unknown): HTMLElement {
  const problem = document.createElement('p');
  problem.className = 'problem';
  problem.textContent = `${what} could not be drawn: ${error instanceof Error ? error.message : String(error)}`;
  return problem;
}
