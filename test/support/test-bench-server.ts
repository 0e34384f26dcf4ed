/** A SiLA server implementing the TestBench feature (test/fixtures/sila), for the SiLA 2 tests. */
import { createHash } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { DefinedExecutionError } from '../../drivers/sila2/errors.ts';
import { ObservableProperty, SilaServer, type SilaServerOptions } from '../../drivers/sila2/server.ts';
import { fqi } from '../../drivers/sila2/feature.ts';
import { readFeatureFile } from '../../drivers/sila2/fdl.ts';

export const TEST_BENCH_FDL = fileURLToPath(new URL('../fixtures/sila/TestBench-v1_0.sila.xml', import.meta.url));

export interface TestBench {
  server: SilaServer;
  counter: ObservableProperty<number>;
}

export async function startTestBench(options: Partial<SilaServerOptions> = {}): Promise<TestBench> {
  const feature = readFeatureFile(TEST_BENCH_FDL);
  const counter = new ObservableProperty<number>(0);
  const server = new SilaServer({ name: 'Test bench', type: 'TestBench', description: 'SiLA test server', version: '1.0.0', ...options });
  server.addFeature(feature, {
    commands: {
      Echo: ({ Value }) => ({ Value }),
      SetTemperature: ({ Temperature }) => ({ Accepted: Temperature }),
      Fail: ({ How }) => {
        if (How === 'defined') throw new DefinedExecutionError('DoorOpen', 'the door of the test bench is open');
        throw new Error('something unexpected broke');
      },
      CountTo: async ({ Target, Interval, FailAt }, context) => {
        let total = 0;
        for (let i = 1; i <= Target; i++) {
          await new Promise((resolve) => setTimeout(resolve, Interval * 1000));
          if (i === FailAt) throw new DefinedExecutionError('DoorOpen', `door opened at ${i}`);
          total += i;
          context.intermediate({ Current: i });
          context.progress(i / Target, (Target - i) * Interval);
        }
        return { Total: total };
      },
      Checksum: ({ Data }) => ({ Reversed: Buffer.from(Data).reverse(), Sha256: createHash('sha256').update(Data).digest('hex') }),
      Secret: (_parameters, context) => ({ Caller: context.metadata.AccessToken as string }),
    },
    properties: {
      Greeting: () => 'hello from the bench',
      Counter: counter,
    },
    metadataAffects: { AccessToken: [fqi.command(feature, 'Secret')] },
    admit: { CountTo: ({ Target }) => (Target > 1000 ? `the bench counts to 1000 at most, not ${Target}` : undefined) },
  });
  await server.start();
  return { server, counter };
}
