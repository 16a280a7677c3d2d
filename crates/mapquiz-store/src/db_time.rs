//! One column encoding of [`Timestamp`] per engine, so that query code binds and reads timestamps the same
//! way on both: INTEGER milliseconds since the epoch on SQLite, `timestamptz` on PostgreSQL (the schema's).

use chrono::{DateTime, Utc};
use mapquiz_domain::Timestamp;
use sqlx::encode::IsNull;
use sqlx::error::BoxDynError;
use sqlx::postgres::{PgHasArrayType, PgTypeInfo, PgValueRef};
use sqlx::sqlite::{SqliteTypeInfo, SqliteValueRef};
use sqlx::{ColumnIndex, Database, Decode, Encode, Postgres, Row, Sqlite, Type};

/// A [`Timestamp`] as a bind argument or a column value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct DbTime(pub Timestamp);

impl Type<Sqlite> for DbTime {
    fn type_info() -> SqliteTypeInfo {
        <i64 as Type<Sqlite>>::type_info()
    }

    fn compatible(ty: &SqliteTypeInfo) -> bool {
        <i64 as Type<Sqlite>>::compatible(ty)
    }
}

impl Encode<'_, Sqlite> for DbTime {
    fn encode_by_ref(&self, buf: &mut <Sqlite as Database>::ArgumentBuffer) -> Result<IsNull, BoxDynError> {
        Encode::<Sqlite>::encode(self.0.millis(), buf)
    }
}

impl<'r> Decode<'r, Sqlite> for DbTime {
    fn decode(value: SqliteValueRef<'r>) -> Result<Self, BoxDynError> {
        let ms = <i64 as Decode<Sqlite>>::decode(value)?;
        // Out of chrono's range is a decode error, not a panic.
        Timestamp::from_millis(ms).map(DbTime).ok_or_else(|| format!("{ms} ms is out of range").into())
    }
}

impl Type<Postgres> for DbTime {
    fn type_info() -> PgTypeInfo {
        <DateTime<Utc> as Type<Postgres>>::type_info()
    }

    fn compatible(ty: &PgTypeInfo) -> bool {
        <DateTime<Utc> as Type<Postgres>>::compatible(ty)
    }
}

impl PgHasArrayType for DbTime {
    fn array_type_info() -> PgTypeInfo {
        <DateTime<Utc> as PgHasArrayType>::array_type_info()
    }
}

impl Encode<'_, Postgres> for DbTime {
    fn encode_by_ref(&self, buf: &mut <Postgres as Database>::ArgumentBuffer) -> Result<IsNull, BoxDynError> {
        Encode::<Postgres>::encode(self.0.datetime(), buf)
    }
}

impl<'r> Decode<'r, Postgres> for DbTime {
    fn decode(value: PgValueRef<'r>) -> Result<Self, BoxDynError> {
        // Microseconds in the column: truncated to the milliseconds written.
        Ok(DbTime(Timestamp::from_datetime(<DateTime<Utc> as Decode<Postgres>>::decode(value)?)))
    }
}

/// The timestamp in column `index`.
pub(crate) fn time<R: Row>(row: &R, index: usize) -> Result<Timestamp, sqlx::Error>
where
    usize: ColumnIndex<R>,
    DbTime: for<'r> Decode<'r, R::Database> + Type<R::Database>,
{
    Ok(row.try_get::<DbTime, _>(index)?.0)
}

/// The nullable timestamp in column `index`.
pub(crate) fn time_opt<R: Row>(row: &R, index: usize) -> Result<Option<Timestamp>, sqlx::Error>
where
    usize: ColumnIndex<R>,
    DbTime: for<'r> Decode<'r, R::Database> + Type<R::Database>,
{
    Ok(row.try_get::<Option<DbTime>, _>(index)?.map(|t| t.0))
}
