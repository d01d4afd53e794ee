//! The selections the priming looks ahead for, each named once. A field renamed in the
//! schema would make the look-ahead miss it and silently bring back one query per row;
//! the test below walks every path through the generated schema and fails instead.
//! (`#[graphql(name = …)]` takes only a string literal, so the attributes cannot share
//! these constants; the test is what ties the two.)

/// Paths below a `Defect` (or a connection's defect nodes).
pub mod defect {
    pub const PROJECT: &[&str] = &["project"];
    pub const PROJECT_MEMBERS: &[&str] = &["project", "members"];
    pub const PROJECT_STAGES: &[&str] = &["project", "stages"];
    pub const STAGE: &[&str] = &["stage"];
    pub const STAGE_PROJECT: &[&str] = &["stage", "project"];
    pub const PERFORMER: &[&str] = &["performer"];
    pub const AUTHOR: &[&str] = &["author"];
    pub const COMMENTS: &[&str] = &["comments"];
    pub const COMMENTS_AUTHOR: &[&str] = &["comments", "author"];
    pub const COMMENT_COUNT: &[&str] = &["commentCount"];
    pub const HISTORY: &[&str] = &["history"];
    pub const HISTORY_CHANGED_BY: &[&str] = &["history", "changedBy"];
    pub const ATTACHMENTS: &[&str] = &["attachments"];
    pub const ATTACHMENTS_UPLOADED_BY: &[&str] = &["attachments", "uploadedBy"];
    /// A comment's or attachment's defect is the page's own row.
    pub const COMMENTS_DEFECT: &[&str] = &["comments", "defect"];
    pub const ATTACHMENTS_DEFECT: &[&str] = &["attachments", "defect"];
    pub const PROJECT_DEFECT_COUNTS: &[&str] = &["project", "defectCounts"];
    /// `key` reads the project's code.
    pub const KEY: &[&str] = &["key"];
    /// `isOverdue` reads the project's time zone (its today).
    pub const IS_OVERDUE: &[&str] = &["isOverdue"];
    /// `location` reads its plan whatever it selects of it (a pin without its plan is none).
    pub const LOCATION: &[&str] = &["location"];
    pub const WATCHERS: &[&str] = &["watchers"];
    /// The viewer's own (`loaders::watching`).
    pub const WATCHING: &[&str] = &["watching"];

    /// Every path above, for the schema test.
    #[cfg(test)]
    pub const ALL: [&[&str]; 22] = [
        KEY,
        IS_OVERDUE,
        LOCATION,
        PROJECT,
        PROJECT_MEMBERS,
        PROJECT_STAGES,
        STAGE,
        STAGE_PROJECT,
        PERFORMER,
        AUTHOR,
        COMMENTS,
        COMMENTS_AUTHOR,
        COMMENT_COUNT,
        HISTORY,
        HISTORY_CHANGED_BY,
        ATTACHMENTS,
        ATTACHMENTS_UPLOADED_BY,
        COMMENTS_DEFECT,
        ATTACHMENTS_DEFECT,
        PROJECT_DEFECT_COUNTS,
        WATCHERS,
        WATCHING,
    ];
}

/// Paths below a `Project`.
pub mod project {
    pub const MEMBERS: &[&str] = &["members"];
    pub const STAGES: &[&str] = &["stages"];
    pub const PLANS: &[&str] = &["plans"];
    pub const DEFECT_COUNTS: &[&str] = &["defectCounts"];

    #[cfg(test)]
    pub const ALL: [&[&str]; 4] = [MEMBERS, STAGES, PLANS, DEFECT_COUNTS];
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use async_graphql::parser::{
        parse_schema,
        types::{BaseType, Type, TypeKind, TypeSystemDefinition},
    };

    /// The named type under lists and non-nulls: `[Comment!]!` → `Comment`.
    fn named(t: &Type) -> String {
        match &t.base {
            BaseType::Named(n) => n.to_string(),
            BaseType::List(inner) => named(inner),
        }
    }

    #[test]
    fn every_primed_path_is_a_field_of_the_schema() {
        let doc = parse_schema(crate::graphql::sdl()).expect("our SDL parses");
        // Object type → field name → the field's named type.
        let mut objects: HashMap<String, HashMap<String, String>> = HashMap::new();
        for def in &doc.definitions {
            if let TypeSystemDefinition::Type(t) = def
                && let TypeKind::Object(o) = &t.node.kind
            {
                let fields = o
                    .fields
                    .iter()
                    .map(|f| (f.node.name.node.to_string(), named(&f.node.ty.node)))
                    .collect();
                objects.insert(t.node.name.node.to_string(), fields);
            }
        }
        let roots = [
            ("Defect", &super::defect::ALL[..]),
            ("Project", &super::project::ALL[..]),
        ];
        for (root, paths) in roots {
            for path in paths {
                let mut at = root.to_owned();
                for field in *path {
                    at = objects
                        .get(&at)
                        .and_then(|fields| fields.get(*field))
                        .unwrap_or_else(|| {
                            panic!("{root}.{}: no field {field} on {at}", path.join("."))
                        })
                        .clone();
                }
            }
        }
    }
}
