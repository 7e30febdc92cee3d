//! The session's tables and views. Tables are registered with DataFusion
//! as schema-only providers (DataFusion plans over them; Eddy's planner
//! turns their scans into connector sources); views as DataFusion views.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::datatypes::{Field, Schema, SchemaRef};
use datafusion::catalog::Session as DfSession;
use datafusion::datasource::{TableProvider, TableType};
use datafusion::error::DataFusionError;
use datafusion::logical_expr::Expr;
use datafusion::physical_plan::ExecutionPlan;

use crate::statement::{ColumnKind, CreateTable};
use eddy_engine::connector::MetadataColumn;

/// A table created with `CREATE TABLE`.
#[derive(Debug, Clone)]
pub struct TableEntry {
    /// The DDL.
    pub def: CreateTable,
    /// All columns (physical, computed, metadata) in declared order.
    pub schema: SchemaRef,
    /// The columns the connector reads or writes.
    pub physical_schema: SchemaRef,
    /// `AS <expr>` of computed columns, for DESCRIBE.
    pub extras: BTreeMap<String, String>,
}

impl TableEntry {
    /// The metadata columns, in declared order.
    pub fn metadata(&self) -> Vec<MetadataColumn> {
        metadata_columns(&self.def)
    }

    /// What the table's source emits: its physical columns, then its
    /// metadata columns.
    pub fn source_schema(&self) -> SchemaRef {
        self.with_metadata(|_| true)
    }

    /// What the table's sink takes: its physical columns, then its
    /// writable metadata columns.
    pub fn sink_schema(&self) -> SchemaRef {
        self.with_metadata(|m| !m.is_virtual)
    }

    fn with_metadata(&self, keep: impl Fn(&MetadataColumn) -> bool) -> SchemaRef {
        schema_with_metadata(&self.physical_schema, &self.def, keep)
    }

    /// The names of the columns an `INSERT` writes, in declared order:
    /// physical and writable metadata columns.
    pub fn sink_columns(&self) -> Vec<String> {
        self.def
            .columns
            .iter()
            .filter(|c| match &c.kind {
                ColumnKind::Physical(_) => true,
                ColumnKind::Metadata { is_virtual, .. } => !is_virtual,
                ColumnKind::Computed(_) => false,
            })
            .map(|c| c.name.clone())
            .collect()
    }

    /// Whether the table has columns beyond the physical ones.
    pub fn has_derived_columns(&self) -> bool {
        self.def
            .columns
            .iter()
            .any(|c| !matches!(c.kind, ColumnKind::Physical(_)))
    }

    /// Whether column `name` is a processing-time attribute
    /// (`name AS PROCTIME()`).
    pub fn is_proctime(&self, name: &str) -> bool {
        self.def.columns.iter().any(|c| {
            c.name == name && matches!(&c.kind, ColumnKind::Computed(e) if is_proctime_call(e))
        })
    }
}

/// The metadata columns of table `def`, in declared order.
pub fn metadata_columns(def: &CreateTable) -> Vec<MetadataColumn> {
    def.columns
        .iter()
        .filter_map(|c| match &c.kind {
            ColumnKind::Metadata {
                data_type,
                key,
                is_virtual,
            } => Some(MetadataColumn {
                name: c.name.clone(),
                key: key.clone().unwrap_or_else(|| c.name.clone()),
                data_type: data_type.data_type.clone(),
                is_virtual: *is_virtual,
            }),
            _ => None,
        })
        .collect()
}

/// `physical`'s columns, then the metadata columns of `def` that `keep`
/// takes.
pub fn schema_with_metadata(
    physical: &SchemaRef,
    def: &CreateTable,
    keep: impl Fn(&MetadataColumn) -> bool,
) -> SchemaRef {
    let mut fields: Vec<Field> = physical
        .fields()
        .iter()
        .map(|f| f.as_ref().clone())
        .collect();
    fields.extend(
        metadata_columns(def)
            .into_iter()
            .filter(|m| keep(m))
            .map(|m| Field::new(m.name, m.data_type, true)),
    );
    Arc::new(Schema::new(fields))
}

/// Whether `e` is `PROCTIME()`.
pub fn is_proctime_call(e: &datafusion::sql::sqlparser::ast::Expr) -> bool {
    use datafusion::sql::sqlparser::ast::{Expr as Ast, FunctionArguments};
    match e {
        Ast::Function(f) => {
            f.name.to_string().eq_ignore_ascii_case("PROCTIME")
                && match &f.args {
                    FunctionArguments::None => true,
                    FunctionArguments::List(l) => l.args.is_empty(),
                    FunctionArguments::Subquery(_) => false,
                }
        }
        Ast::Nested(e) => is_proctime_call(e),
        _ => false,
    }
}

/// A schema-only table for DataFusion's planner; never executed by it.
#[derive(Debug)]
pub struct CatalogTable {
    /// The table's name.
    pub name: String,
    /// Its schema.
    pub schema: SchemaRef,
}

#[async_trait]
impl TableProvider for CatalogTable {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }
    fn table_type(&self) -> TableType {
        TableType::Base
    }
    async fn scan(
        &self,
        _state: &dyn DfSession,
        _projection: Option<&Vec<usize>>,
        _filters: &[Expr],
        _limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>, DataFusionError> {
        Err(DataFusionError::Internal(format!(
            "table '{}' is read by Eddy's streaming runtime, not by DataFusion (this is a bug)",
            self.name
        )))
    }
}

/// A schema where every field admits NULL: what flows between operators.
pub fn nullable_schema(schema: &Schema) -> SchemaRef {
    Arc::new(Schema::new(
        schema
            .fields()
            .iter()
            .map(|f| Field::new(f.name(), f.data_type().clone(), true))
            .collect::<Vec<_>>(),
    ))
}
