/** The steps of a batch record: parameters and results with units and rounded values, controls, telemetry. */
import { describeOutcome } from '../../../../orchestrator/record-outcome.ts';
import { formatLimits, formatValue } from '../../../../orchestrator/quantity-format.ts';
import type { ControlOutcome, StepRecord } from '../api-types.ts';
import { time } from '../ui.tsx';
import { TelemetryPlot } from './telemetry-plot.tsx';

function Values({ items, units }: { items: Record<string, unknown> | undefined; units: Record<string, string> }) {
  if (!items) return null;
  return (
    <ul class="values">
      {Object.entries(items).map(([name, value]) => (
        <li>
          {name} = <span class="value">{formatValue(value, units[name])}</span>
        </li>
      ))}
    </ul>
  );
}

export function Control({ control }: { control: ControlOutcome }) {
  const limits = formatLimits(control.min, control.max, control.unit);
  return (
    <li class={control.pass ? 'pass' : 'fail'}>
      {control.result} {formatValue(control.value, control.unit)}
      {limits ? ` (${limits})` : ''}: {control.pass ? 'pass' : 'FAIL'}
    </li>
  );
}

const FAILED = new Set<StepRecord['outcome']>(['failed', 'failed-controls-skipped', 'incomplete-skipped']);

export function StepSection({ step, reference }: { step: StepRecord; reference: number }) {
  return (
    <section class="step" id={`step-${step.step}`}>
      <h3>
        {step.step}
        {step.name ? ` (${step.name})` : ''}{' '}
        <small>
          {step.module ? `on ${step.module}, ` : ''}
          {time(step.started, reference)}
          {step.ended ? ` → ${time(step.ended, reference)}` : ''}: <span class={FAILED.has(step.outcome) ? 'fail' : ''}>{describeOutcome(step)}</span>
        </small>
      </h3>
      {step.parameters || step.results || step.controls.length > 0 ? (
        <table class="grid fixed">
          <thead>
            <tr>
              <th>parameters</th>
              <th>results</th>
              <th>controls</th>
            </tr>
          </thead>
          <tbody>
            <tr>
              <td>
                <Values items={step.parameters} units={step.parameterUnits} />
              </td>
              <td>
                <Values items={step.results} units={step.resultUnits} />
              </td>
              <td>
                <ul class="values">
                  {step.controls.map((c) => (
                    <Control control={c} />
                  ))}
                </ul>
              </td>
            </tr>
          </tbody>
        </table>
      ) : null}
      {step.recurring.length > 0 ? (
        <table class="grid fixed">
          <thead>
            <tr>
              <th class="w-at">at</th>
              <th>recurring work</th>
              <th>parameters</th>
              <th>results</th>
              <th>controls</th>
            </tr>
          </thead>
          <tbody>
            {step.recurring.map((r) => (
              <tr>
                <td>{time(r.ended ?? r.issued, reference)}</td>
                <td>
                  {r.work} on {r.module}
                  {r.outcome === 'completed' ? '' : <span class="fail"> {r.outcome}</span>}
                </td>
                <td>
                  <Values items={r.parameters} units={r.parameterUnits} />
                </td>
                <td>
                  <Values items={r.results} units={r.resultUnits} />
                </td>
                <td>
                  <ul class="values">
                    {r.controls.map((c) => (
                      <Control control={c} />
                    ))}
                  </ul>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
      {step.telemetry.length > 0 ? (
        <>
          <table class="grid fixed">
            <thead>
              <tr>
                <th>telemetry</th>
                <th>min</th>
                <th>max</th>
                <th>mean</th>
                <th class="w-n">n</th>
                <th>limits</th>
              </tr>
            </thead>
            <tbody>
              {step.telemetry.map((t) => (
                <tr>
                  <td>
                    {t.module} {t.channel}
                  </td>
                  <td>{formatValue(t.min, t.unit)}</td>
                  <td>{formatValue(t.max, t.unit)}</td>
                  <td>{formatValue(t.mean, t.unit)}</td>
                  <td>{t.samples}</td>
                  <td>
                    {t.limits.map((l) => (
                      <div>
                        {l.kind} {formatValue(l.value, t.unit, { exact: true })} ({l.source})
                      </div>
                    ))}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
          <div class="plots">
            {step.telemetry.map((t) => (
              <TelemetryPlot summary={t} />
            ))}
          </div>
        </>
      ) : null}
    </section>
  );
}
