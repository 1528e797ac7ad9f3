//! The arithmetic behind the analytics: moving average, least-squares line with a prediction
//! interval, and the robust (median/MAD) z-score. Plain functions of slices, no I/O, no state.
//!
//! Series here are short (a handful to a few dozen runs) and noisy, so every function says what
//! it needs and returns `None` below that instead of a number that only looks meaningful. The
//! order of summation is fixed (left to right), so the same input gives the same bits.

/// Mean of a non-empty slice.
pub fn mean(xs: &[f64]) -> Option<f64> {
    (!xs.is_empty()).then(|| xs.iter().sum::<f64>() / xs.len() as f64)
}

/// Median of a non-empty slice (the mean of the middle two for an even length).
pub fn median(xs: &[f64]) -> Option<f64> {
    if xs.is_empty() {
        return None;
    }
    let mut v = xs.to_vec();
    v.sort_by(f64::total_cmp);
    let mid = v.len() / 2;
    Some(if v.len().is_multiple_of(2) {
        (v[mid - 1] + v[mid]) / 2.0
    } else {
        v[mid]
    })
}

/// Mean of the last `window` values (all of them when there are fewer).
pub fn moving_average(xs: &[f64], window: usize) -> Option<f64> {
    mean(&xs[xs.len().saturating_sub(window.max(1))..])
}

/// An ordinary least-squares line through `(i, xs[i])`, i = 0, 1, …
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Line {
    pub slope: f64,
    pub intercept: f64,
    /// Residual standard error, √(SSE / (n − 2)).
    pub residual_se: f64,
    /// Standard error of the slope, s / √Sxx.
    pub slope_se: f64,
    pub n: usize,
    x_mean: f64,
    sxx: f64,
}

/// The least-squares line of a series; needs at least 3 points (one residual degree of freedom).
pub fn fit(xs: &[f64]) -> Option<Line> {
    let n = xs.len();
    if n < 3 {
        return None;
    }
    let x_mean = (n - 1) as f64 / 2.0;
    let y_mean = mean(xs)?;
    let (mut sxx, mut sxy) = (0.0, 0.0);
    for (i, y) in xs.iter().enumerate() {
        let dx = i as f64 - x_mean;
        sxx += dx * dx;
        sxy += dx * (y - y_mean);
    }
    let slope = sxy / sxx;
    let intercept = y_mean - slope * x_mean;
    let sse: f64 = xs
        .iter()
        .enumerate()
        .map(|(i, y)| {
            let r = y - (intercept + slope * i as f64);
            r * r
        })
        .sum();
    let residual_se = (sse / (n - 2) as f64).sqrt();
    Some(Line {
        slope,
        intercept,
        residual_se,
        slope_se: residual_se / sxx.sqrt(),
        n,
        x_mean,
        sxx,
    })
}

impl Line {
    /// The line's value at the next index (`n`), with the 95% prediction interval
    /// ŷ ± t(0.975, n−2) · s · √(1 + 1/n + (x₀ − x̄)² / Sxx).
    pub fn forecast_next(&self) -> (f64, f64, f64) {
        let x0 = self.n as f64;
        let value = self.intercept + self.slope * x0;
        let spread = t_975(self.n - 2)
            * self.residual_se
            * (1.0 + 1.0 / self.n as f64 + (x0 - self.x_mean).powi(2) / self.sxx).sqrt();
        (value, value - spread, value + spread)
    }

    /// Whether the slope differs from zero at the 5% level (two-sided t-test).
    pub fn slope_is_significant(&self) -> bool {
        if self.slope_se == 0.0 {
            return self.slope != 0.0;
        }
        (self.slope / self.slope_se).abs() > t_975(self.n - 2)
    }
}

/// The 0.975 quantile of Student's t with `df` degrees of freedom (tabled to 30, then the
/// normal 1.96: the difference is under 4% and shrinking).
pub fn t_975(df: usize) -> f64 {
    const T: [f64; 30] = [
        12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160,
        2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056,
        2.052, 2.048, 2.045, 2.042,
    ];
    match df {
        0 => f64::NAN,
        1..=30 => T[df - 1],
        _ => 1.96,
    }
}

/// The modified z-score of `x` against `reference` (Iglewicz & Hoaglin):
/// 0.6745 · (x − median) / MAD. When MAD is 0 (more than half the values equal), the mean
/// absolute deviation scaled by 1.2533 stands in for it; when that is 0 too, every reference
/// value is the same and there is no scale: `None`. Needs at least 4 reference values.
pub fn robust_z(x: f64, reference: &[f64]) -> Option<f64> {
    if reference.len() < 4 {
        return None;
    }
    let med = median(reference)?;
    let deviations: Vec<f64> = reference.iter().map(|v| (v - med).abs()).collect();
    let mad = median(&deviations)?;
    if mad > 0.0 {
        return Some(0.6745 * (x - med) / mad);
    }
    let mean_ad = mean(&deviations)?;
    (mean_ad > 0.0).then(|| (x - med) / (1.253314 * mean_ad))
}

/// Rounds to six decimals, so published numbers do not carry float noise.
pub fn round6(v: f64) -> f64 {
    (v * 1e6).round() / 1e6
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_straight_line_is_fitted_exactly_with_a_zero_width_interval() {
        let line = fit(&[1.0, 3.0, 5.0, 7.0]).unwrap();
        assert_eq!((line.slope, line.intercept), (2.0, 1.0));
        assert_eq!(line.residual_se, 0.0);
        assert_eq!(line.forecast_next(), (9.0, 9.0, 9.0));
        assert!(line.slope_is_significant());
    }

    #[test]
    fn the_prediction_interval_matches_a_worked_example() {
        // y = 1, 2, 2, 4, 4: slope 0.8, intercept 1.0, SSE 0.8, s = √(0.8/3); at x0 = 5:
        // ŷ = 5.0, t(3) = 3.182, factor √(1 + 1/5 + 9/10) = √2.1.
        let line = fit(&[1.0, 2.0, 2.0, 4.0, 4.0]).unwrap();
        assert!((line.slope - 0.8).abs() < 1e-12);
        let (v, lo, hi) = line.forecast_next();
        let spread = 3.182 * (0.8f64 / 3.0).sqrt() * 2.1f64.sqrt();
        assert!((v - 5.0).abs() < 1e-12);
        assert!((hi - v - spread).abs() < 1e-9 && (v - lo - spread).abs() < 1e-9);
    }

    #[test]
    fn too_short_series_give_nothing() {
        assert!(fit(&[1.0, 2.0]).is_none());
        assert!(robust_z(5.0, &[1.0, 2.0, 3.0]).is_none());
        assert!(mean(&[]).is_none() && median(&[]).is_none());
        assert_eq!(moving_average(&[1.0, 2.0, 3.0, 4.0], 2), Some(3.5));
    }

    #[test]
    fn a_spike_has_a_large_robust_z_and_noise_does_not() {
        let reference = [0.80, 0.82, 0.79, 0.81, 0.80, 0.83, 0.78];
        assert!(robust_z(0.50, &reference).unwrap().abs() > 3.5);
        assert!(robust_z(0.815, &reference).unwrap().abs() < 3.5);
        // More than half equal: MAD is 0, the mean absolute deviation takes over.
        let flat = [1.0, 1.0, 1.0, 1.0, 1.2];
        assert!(robust_z(2.0, &flat).unwrap() > 3.5);
        assert_eq!(robust_z(2.0, &[1.0; 5]), None);
    }

    #[test]
    fn noise_around_a_level_is_not_a_significant_slope() {
        let line = fit(&[0.8, 0.82, 0.79, 0.81, 0.8, 0.82, 0.79]).unwrap();
        assert!(!line.slope_is_significant());
    }
}
