use super::*;
use chrono::TimeZone;

#[test]
fn formula_prefixes_are_neutralised_and_nothing_else() {
    for bad in ["=SUM(A1)", "+1", "-1", "@x", "\tx", "\rx"] {
        assert_eq!(neutralise(bad), format!("'{bad}"), "{bad:?}");
    }
    for fine in ["", "Трещина", "1+1", "a=b", "'quoted", " =x"] {
        assert_eq!(neutralise(fine), fine, "{fine:?}");
    }
}

fn row(title: &str) -> Row {
    let t = Utc.with_ymd_and_hms(2026, 11, 26, 9, 30, 0).unwrap();
    Row {
        id: 7,
        project_id: 1,
        number: 42,
        stage_id: None,
        title: title.into(),
        description: "line 1\nline 2".into(),
        priority: Priority::High,
        status: DefectStatus::InProgress,
        performer_id: None,
        author_id: 2,
        deadline: NaiveDate::from_ymd_opt(2026, 12, 1),
        created_at: t,
        updated_at: t + chrono::Duration::microseconds(1500),
        closed_at: None,
        plan_id: Some(3),
        location_x: Some(0.25),
        location_y: Some(1.0),
        location_label: Some("ось C-D/7".into()),
    }
}

fn names() -> Names {
    Names {
        projects: HashMap::from([(1, "Башня".to_owned())]),
        codes: HashMap::from([(1, "СК1".to_owned())]),
        stages: HashMap::new(),
        users: HashMap::from([(2, "manager".to_owned())]),
        plans: HashMap::from([(3, "Этаж 3".to_owned())]),
    }
}

#[test]
fn names_cover_only_known_ids() {
    let mut r = row("x");
    assert!(names().cover(std::slice::from_ref(&r)));
    r.performer_id = Some(99);
    assert!(!names().cover(&[r]), "a user created during the export");
}

#[test]
fn records_follow_rfc_4180_with_lower_case_enums_and_utc_timestamps() {
    let out = encode(
        Vec::new(),
        true,
        &[row("a, \"b\"")],
        &names(),
        &Spelling::new(Form::Machine),
    )
    .unwrap();
    let text = String::from_utf8(out).unwrap();
    assert_eq!(
        text,
        "key,id,project,stage,title,description,priority,status,performer,author,deadline,created_at,updated_at,closed_at,plan,x,y,location\r\n\
         СК1-042,7,Башня,,\"a, \"\"b\"\"\",\"line 1\nline 2\",high,in_progress,,manager,2026-12-01,\
         2026-11-26T09:30:00Z,2026-11-26T09:30:00.001500Z,,Этаж 3,0.25,1,ось C-D/7\r\n"
    );
    let out = encode(
        Vec::new(),
        false,
        &[row("=cmd")],
        &names(),
        &Spelling::new(Form::Machine),
    )
    .unwrap();
    assert!(
        String::from_utf8(out)
            .unwrap()
            .starts_with("СК1-042,7,Башня,,'=cmd,")
    );
}

#[test]
fn the_russian_form_translates_header_and_enum_values_and_separates_with_semicolons() {
    let out = encode(
        Vec::new(),
        true,
        &[row("Трещина; сквозная")],
        &names(),
        &Spelling::new(Form::Human(Lang::Ru)),
    )
    .unwrap();
    let text = String::from_utf8(out).unwrap();
    assert!(
        text.starts_with(
            "Ключ;ID;Проект;Этап;Название;Описание;Приоритет;Статус;Исполнитель;Автор;Срок;Создан;Изменён;Закрыт;План;X;Y;Место\r\n\
             СК1-042;7;Башня;;\"Трещина; сквозная\";"
        ),
        "{text}"
    );
    assert!(text.contains(";Высокий;В работе;"), "{text}");
    assert!(Form::Human(Lang::Ru).bom_by_default());
}

#[test]
fn the_english_human_form_keeps_commas_and_reads_as_words() {
    let text = String::from_utf8(
        encode(
            Vec::new(),
            true,
            &[row("x")],
            &names(),
            &Spelling::new(Form::Human(Lang::En)),
        )
        .unwrap(),
    )
    .unwrap();
    assert!(text.starts_with("Key,ID,Project,"), "{text}");
    assert!(text.contains(",High,In progress,"), "{text}");
    assert!(!Form::Human(Lang::En).bom_by_default());
}

#[test]
fn the_machine_form_is_the_contract_spellings() {
    use sea_orm::Iterable;
    let machine = Spelling::new(Form::Machine);
    assert_eq!(machine.header, COLUMNS);
    assert_eq!(machine.delimiter, b',');
    assert!(!Form::Machine.bom_by_default());
    for s in DefectStatus::iter() {
        assert_eq!(machine.status(s), status_label(s));
    }
    for p in Priority::iter() {
        assert_eq!(machine.priority(p), priority_label(p));
    }
}

#[test]
fn labels_cover_every_value() {
    use sea_orm::Iterable;
    let s: Vec<_> = DefectStatus::iter().map(status_label).collect();
    assert_eq!(s, ["new", "in_progress", "review", "closed", "cancelled"]);
    let p: Vec<_> = Priority::iter().map(priority_label).collect();
    assert_eq!(p, ["low", "medium", "high"]);
}

#[test]
fn restore_undoes_neutralise() {
    for cell in ["=SUM(A1)", "+1", "-1", "@x", "Трещина", "'quoted", ""] {
        assert_eq!(restore(&neutralise(cell)), cell, "{cell:?}");
    }
}

#[test]
fn headers_and_priorities_are_read_in_every_form() {
    for form in [Form::Machine, Form::Human(Lang::En), Form::Human(Lang::Ru)] {
        let spelling = Spelling::new(form);
        for (header, machine) in spelling.header.iter().zip(COLUMNS) {
            assert_eq!(column_named(header), Some(machine), "{form:?} {header}");
        }
        for (p, label) in &spelling.priorities {
            assert_eq!(priority_named(label), Some(*p), "{form:?} {label}");
        }
    }
    assert_eq!(column_named(" TITLE "), Some("title"));
    assert_eq!(column_named("Название"), Some("title"));
    assert_eq!(column_named("colour"), None);
    assert_eq!(priority_named("HIGH"), Some(Priority::High));
    assert_eq!(priority_named("urgent"), None);
}
