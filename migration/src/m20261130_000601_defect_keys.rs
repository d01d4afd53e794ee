use sea_orm_migration::{
    prelude::*,
    schema::*,
    sea_orm::{ConnectionTrait, Statement},
};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Keys people say aloud ("СК1-042"): `projects.code` (with `code_key`, its Unicode
/// lower-case form, unique, so codes are unique case-insensitively the same way on both
/// databases: SQLite's `lower()` folds ASCII only), `defects.number` (per project,
/// unique with `project_id`), and `defect_numbers`, the per-project counter that a create
/// increments in its own transaction (`INSERT … ON CONFLICT DO UPDATE … RETURNING`).
///
/// Existing data: defects are numbered per project by `created_at`, then `id` (a window
/// function, one statement on both databases; soft-deleted defects keep a number too),
/// the counters start at each project's highest number, and every existing project gets
/// a code derived from its title (see [`derive_code`]).
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Projects::Table)
                    .add_column(string_len_null(Projects::Code, 10))
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Projects::Table)
                    .add_column(text_null(Projects::CodeKey))
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Defects::Table)
                    .add_column(integer(Defects::Number).default(0))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(DefectNumbers::Table)
                    .col(integer(DefectNumbers::ProjectId).primary_key())
                    .col(integer(DefectNumbers::LastNumber))
                    .foreign_key(
                        ForeignKey::create()
                            .from(DefectNumbers::Table, DefectNumbers::ProjectId)
                            .to(Projects::Table, Projects::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        let db = manager.get_connection();
        // UPDATE … FROM: PostgreSQL, and SQLite since 3.33 (the bundled one is newer).
        db.execute_unprepared(
            "UPDATE defects SET number = n.rn FROM (\
               SELECT id, ROW_NUMBER() OVER (PARTITION BY project_id ORDER BY created_at, id) AS rn \
               FROM defects) AS n \
             WHERE defects.id = n.id",
        )
        .await?;
        db.execute_unprepared(
            "INSERT INTO defect_numbers (project_id, last_number) \
             SELECT project_id, MAX(number) FROM defects GROUP BY project_id",
        )
        .await?;
        let backend = manager.get_database_backend();
        let rows = db
            .query_all_raw(Statement::from_string(
                backend,
                "SELECT id, title FROM projects ORDER BY id",
            ))
            .await?;
        let mut taken = std::collections::HashSet::new();
        for row in rows {
            let id: i32 = row.try_get("", "id")?;
            let title: String = row.try_get("", "title")?;
            let code = unique_code(&derive_code(&title, id), &mut taken);
            db.execute(
                Query::update()
                    .table(Projects::Table)
                    .value(Projects::Code, code.clone())
                    .value(Projects::CodeKey, code.to_lowercase())
                    .and_where(Expr::col(Projects::Id).eq(id)),
            )
            .await?;
        }
        manager
            .create_index(
                crate::index(Projects::Table, &[Projects::CodeKey])
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                crate::index(Defects::Table, &[Defects::ProjectId, Defects::Number])
                    .unique()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name("idx_defects_project_id_number")
                    .table(Defects::Table)
                    .to_owned(),
            )
            .await?;
        manager
            .drop_index(
                Index::drop()
                    .name("idx_projects_code_key")
                    .table(Projects::Table)
                    .to_owned(),
            )
            .await?;
        manager
            .drop_table(Table::drop().table(DefectNumbers::Table).to_owned())
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Defects::Table)
                    .drop_column(Defects::Number)
                    .to_owned(),
            )
            .await?;
        for col in [Projects::CodeKey, Projects::Code] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Projects::Table)
                        .drop_column(col)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}

/// A code from a project's title: the first letter or digit of each word, upper-cased,
/// at most 6 ("ЖК Северный, корпус 3" → "ЖСК3"); a title of one word gives its first
/// three letters or digits ("Башня" → "БАШ"); fewer than two characters gives `P<id>`.
pub(crate) fn derive_code(title: &str, id: i32) -> String {
    let words: Vec<&str> = title
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect();
    let code: String = if words.len() >= 2 {
        words
            .iter()
            .filter_map(|w| w.chars().next())
            .flat_map(char::to_uppercase)
            .take(6)
            .collect()
    } else {
        words
            .first()
            .map(|w| w.chars().flat_map(char::to_uppercase).take(3).collect())
            .unwrap_or_default()
    };
    if code.chars().count() >= 2 {
        code
    } else {
        format!("P{id}").chars().take(10).collect()
    }
}

/// `code`, or `code` with the smallest number 2, 3, … appended (shortened to keep
/// within 10 characters) that no earlier project took, compared case-insensitively.
pub(crate) fn unique_code(code: &str, taken: &mut std::collections::HashSet<String>) -> String {
    let mut candidate = code.to_owned();
    let mut n = 2u32;
    while !taken.insert(candidate.to_lowercase()) {
        let suffix = n.to_string();
        let keep = 10usize.saturating_sub(suffix.len());
        candidate = code.chars().take(keep).chain(suffix.chars()).collect();
        n += 1;
    }
    candidate
}

#[derive(DeriveIden, Clone)]
enum Projects {
    Table,
    Id,
    Code,
    CodeKey,
}

#[derive(DeriveIden, Clone)]
enum Defects {
    Table,
    ProjectId,
    Number,
}

#[derive(DeriveIden)]
enum DefectNumbers {
    Table,
    ProjectId,
    LastNumber,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_come_from_titles() {
        assert_eq!(derive_code("ЖК Северный, корпус 3", 1), "ЖСК3");
        assert_eq!(derive_code("Башня", 1), "БАШ");
        assert_eq!(derive_code("Tower A block 7 phase two extra", 1), "TAB7PT");
        assert_eq!(derive_code("!!", 42), "P42");
        assert_eq!(derive_code("Я", 5), "P5");
    }

    #[test]
    fn duplicates_get_a_number() {
        let mut taken = std::collections::HashSet::new();
        assert_eq!(unique_code("БАШ", &mut taken), "БАШ");
        assert_eq!(unique_code("баш", &mut taken), "баш2");
        assert_eq!(unique_code("ABCDEFGHIJ", &mut taken), "ABCDEFGHIJ");
        assert_eq!(unique_code("ABCDEFGHIJ", &mut taken), "ABCDEFGHI2");
    }
}
