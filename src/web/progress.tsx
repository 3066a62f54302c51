import { percent } from './format.js'

/** A bar with its percentage; the width is set through the DOM (the CSP allows no inline style attribute). */
export function Progress ({ fraction }: { fraction: number }) {
  return (
    <span class="progress" role="progressbar" aria-valuenow={Math.round(fraction * 1000) / 10} aria-valuemin={0} aria-valuemax={100}>
      <span class="bar" style={{ width: `${Math.min(100, fraction * 100)}%` }} />
      <span class="label">{percent(fraction)}</span>
    </span>
  )
}
