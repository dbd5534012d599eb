//! Changing a sale after checkout: the customer's name and the notes, and
//! the kitchen marking it prepared. Amounts, lines and stock never change
//! here; refunds (lib/sales/refunds.rs) are the only way money goes back.

use serde::Deserialize;
use sqlx::PgConnection;
use utoipa::ToSchema;
use uuid::Uuid;

use super::{Preparation, Sale, detail};
use crate::error::{ApiError, ApiResult};
use crate::validate::Check;

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SalePatch {
    #[schema(example = "Budi")]
    #[schema(
        pattern = r"^[^\u0000-\u0008\u000b-\u001f\u007f-\u009f]*$",
        max_length = 200
    )]
    pub customer_name: Option<String>,
    #[schema(
        pattern = r"^[^\u0000-\u0008\u000b-\u001f\u007f-\u009f]*$",
        max_length = 1000
    )]
    pub notes: Option<String>,
    /// Only `completed`: the kitchen has prepared the sale. Marking a sale
    /// that is already done again changes nothing (two kitchen screens may
    /// both tap "ready").
    #[schema(schema_with = completed_only)]
    pub preparation: Option<Preparation>,
}

/// `"completed"` or `null`: the one stage a sale's edit can set.
pub fn completed_only() -> utoipa::openapi::Object {
    use utoipa::openapi::schema::{ObjectBuilder, SchemaType, Type};
    ObjectBuilder::new()
        .schema_type(SchemaType::from_iter([Type::String, Type::Null]))
        .enum_values(Some([
            serde_json::json!("completed"),
            serde_json::Value::Null,
        ]))
        .build()
}

/// Who is changing the sale: a cashier may rename and annotate only their
/// own sales (another's is "not found", as on the detail view), while
/// anyone on the staff may mark a sale in the kitchen's queue prepared (the
/// queue is shared). Another cashier's sale that is not in the queue (and
/// was not just taken out of it) is "not found" to a cashier.
pub struct Editor {
    pub user_id: Uuid,
    pub own_sales_only: bool,
}

pub async fn edit(
    conn: &mut PgConnection,
    id: Uuid,
    patch: SalePatch,
    editor: Editor,
) -> ApiResult<Sale> {
    let mut c = Check::new();
    let customer_name = patch
        .customer_name
        .as_deref()
        .map(|n| c.text("customer_name", n, 0, 200));
    let notes = patch.notes.as_deref().map(|n| c.text("notes", n, 0, 1000));
    if patch.preparation == Some(Preparation::Processing) {
        c.add(
            "preparation",
            "Only `completed` can be set: the kitchen marks a sale done.",
        );
    }
    if customer_name.is_none() && notes.is_none() && patch.preparation.is_none() {
        c.add(
            "customer_name",
            "Send at least one of customer_name, notes or preparation.",
        );
    }
    c.finish()?;

    let mut tx = sqlx::Connection::begin(&mut *conn).await?;
    let renames = customer_name.is_some() || notes.is_some();
    let cashier_only = (renames && editor.own_sales_only).then_some(editor.user_id);
    // Another cashier's sale is reachable only through the kitchen: while
    // it is in the queue (which every cashier sees), or just after it left
    // it (a second kitchen screen tapping "ready" too). Anything else is
    // "not found", as on the detail view: neither its existence nor its
    // contents show (v0's ids are small integers, easy to walk).
    let kitchen_only = editor.own_sales_only.then_some(editor.user_id);
    let found = sqlx::query!(
        "SELECT status, preparation FROM sales
         WHERE id = $1 AND ($2::uuid IS NULL OR cashier_id = $2)
           AND ($3::uuid IS NULL OR cashier_id = $3 OR preparation = 'processing'
                OR prepared_by = $3 OR prepared_at > now() - interval '10 minutes')
         FOR NO KEY UPDATE",
        id,
        cashier_only,
        kitchen_only
    )
    .fetch_optional(&mut *tx)
    .await?
    .ok_or_else(|| ApiError::not_found("Transaction"))?;
    let prepare = patch.preparation == Some(Preparation::Completed);
    if prepare && found.preparation.is_none() {
        return Err(ApiError::Conflict(
            "Nothing in this sale needs preparing.".into(),
        ));
    }
    if prepare && found.status == "refunded" && found.preparation.as_deref() == Some("processing") {
        return Err(ApiError::Conflict(
            "This sale was voided; there is nothing to prepare.".into(),
        ));
    }
    sqlx::query!(
        "UPDATE sales SET
             customer_name = coalesce($2, customer_name),
             notes = coalesce($3, notes),
             preparation = CASE WHEN $4 AND preparation = 'processing' THEN 'completed'
                                ELSE preparation END,
             prepared_at = CASE WHEN $4 AND preparation = 'processing' THEN now()
                                ELSE prepared_at END,
             prepared_by = CASE WHEN $4 AND preparation = 'processing' THEN $5
                                ELSE prepared_by END
         WHERE id = $1",
        id,
        customer_name,
        notes,
        prepare,
        editor.user_id
    )
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    detail(conn, id, None).await
}
