/**
 * The physical side of a simulated workcell: which item (bag, cartridge, plate) is where, and what is
 * in it. Simulators that share a world move real items between each other, so the bag loaded into a
 * separator comes out with the same ID, and a robot that scans the wrong position sees the wrong bag.
 */
export interface Material {
  /** Total cells. */
  cells: number;
  /** Viable fraction, %. */
  viability: number;
  volumeMl: number;
  /** Fraction of cells carrying the target markers or the CAR, %, once measured. */
  purity?: number;
  carPositive?: number;
  /** Surface phenotype, % of viable cells per marker (behaviour/phenotype.ts); apheresis-like when absent. */
  markers?: Partial<Record<'CD3' | 'CD4' | 'CD8' | 'CD56' | 'CD16' | 'TCR', number>>;
  /** Population doubling time in culture (h) for these cells and their medium; the T-cell figure when absent. */
  doublingHours?: number;
  /** Culture medium, g/L, once the cells are in culture. */
  glucose?: number;
  lactate?: number;
  /** Cells put into culture by the last seed: fold expansion is counted from here, however the culture is split into commands. */
  seededCells?: number;
}

export interface Item {
  id: string;
  container: string;
  material: Material;
  /** Where the item is: a position id ('intake', 'sep-1.port'). */
  position: string;
}

export class SimulationWorld {
  private readonly items = new Map<string, Item>();
  private readonly listeners = new Set<() => void>();

  /** Called after every change of where items are (modules show what they hold). */
  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private changed(): void {
    for (const listener of this.listeners) listener();
  }

  /** Puts a new item at a position (an operator placing a bag at intake). */
  introduce(item: Item): void {
    if (this.items.has(item.id)) throw new Error(`item ${item.id} already exists`);
    const there = this.itemAt(item.position);
    if (there) throw new Error(`position ${item.position} already holds ${there.id}`);
    this.items.set(item.id, structuredClone(item));
    this.changed();
  }

  item(id: string): Item | undefined {
    return this.items.get(id);
  }

  itemAt(position: string): Item | undefined {
    for (const item of this.items.values()) if (item.position === position) return item;
    return undefined;
  }

  itemsAt(prefix: string): Item[] {
    return [...this.items.values()].filter((i) => i.position === prefix || i.position.startsWith(`${prefix}.`));
  }

  move(id: string, to: string): void {
    const item = this.items.get(id);
    if (!item) throw new Error(`no item ${id}`);
    const there = this.itemAt(to);
    if (there && there.id !== id) throw new Error(`position ${to} already holds ${there.id}`);
    item.position = to;
    this.changed();
  }

  remove(id: string): void {
    this.items.delete(id);
    this.changed();
  }
}
