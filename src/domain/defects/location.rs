//! A defect's pin on a plan: which plan, where (x, y in 0..1 of the plan's preview, from
//! its top-left corner) and a free-text label ("ось C-D/7, отм. +9.600"). Checked here
//! once for create and update; the service writes the columns.
use crate::i18n::Msg;
use sea_orm::{
    ConnectionTrait, EntityTrait,
    sea_query::{Expr, SimpleExpr},
};

use crate::{
    domain::validate,
    entities::{defects::Column, plans},
    error::{AppError, AppResult},
};

pub const LABEL_MAX: usize = 200;

/// A pin as given; `plan_id` is `None` for an id that is not ours.
#[derive(Clone, Debug)]
pub struct LocationInput {
    pub plan_id: Option<i32>,
    pub x: f64,
    pub y: f64,
    pub label: Option<String>,
}

/// A checked pin.
#[derive(Clone, Debug, PartialEq)]
pub struct Pin {
    pub plan_id: i32,
    pub x: f64,
    pub y: f64,
    pub label: Option<String>,
}

fn coordinate(field: &str, v: f64) -> AppResult<f64> {
    if v.is_finite() && (0.0..=1.0).contains(&v) {
        Ok(v)
    } else {
        Err(AppError::BadUserInput(Msg::Between0And1 {
            field: field.into(),
        }))
    }
}

/// The pin, if its coordinates are in 0..1 and its plan belongs to `project_id`
/// (BAD_USER_INPUT naming the field otherwise).
pub async fn check(
    db: &impl ConnectionTrait,
    project_id: i32,
    input: LocationInput,
) -> AppResult<Pin> {
    let x = coordinate("location.x", input.x)?;
    let y = coordinate("location.y", input.y)?;
    let label = match input.label.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(l) => Some(validate::line("location.label", l, LABEL_MAX)?),
    };
    let not_here = || {
        AppError::BadUserInput(Msg::PlanNotInProject {
            field: "location.planId".into(),
        })
    };
    let plan_id = input.plan_id.ok_or_else(not_here)?;
    match plans::Entity::find_by_id(plan_id).one(db).await? {
        Some(p) if p.project_id == project_id => Ok(Pin {
            plan_id,
            x,
            y,
            label,
        }),
        _ => Err(not_here()),
    }
}

/// The column values of a pin (`None`: no pin).
pub fn columns(pin: Option<&Pin>) -> Vec<(Column, SimpleExpr)> {
    vec![
        (Column::PlanId, Expr::value(pin.map(|p| p.plan_id))),
        (Column::LocationX, Expr::value(pin.map(|p| p.x))),
        (Column::LocationY, Expr::value(pin.map(|p| p.y))),
        (
            Column::LocationLabel,
            Expr::value(pin.and_then(|p| p.label.clone())),
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn coordinates_are_fractions() {
        for ok in [0.0, 0.5, 1.0] {
            assert_eq!(coordinate("x", ok).unwrap(), ok);
        }
        for bad in [-0.01, 1.000_001, f64::NAN, f64::INFINITY] {
            assert!(coordinate("x", bad).is_err(), "{bad}");
        }
    }
}
