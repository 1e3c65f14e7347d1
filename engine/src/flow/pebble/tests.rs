//! The engine against Kestra's values: one table per area, every row
//! through [`check`]. Where a value is not obvious, the comment says which
//! Pebble or Kestra source or test it comes from.

use serde_json::{Value, json};

use super::{Limits, Template};
use crate::flow::expr::{Host, Masker};

struct TestHost;

impl Host for TestHost {
    fn secret(&self, name: &str) -> Option<String> {
        (name == "TOKEN").then(|| "dapi-s3cr3t".to_owned())
    }
    fn now(&self) -> jiff::Timestamp {
        "2026-11-25T08:00:00Z".parse().unwrap()
    }
    fn read(&self, uri: &str) -> Result<String, String> {
        if uri == "storage:///a.txt" {
            Ok("file text".into())
        } else {
            Err(format!("{uri} does not exist"))
        }
    }
    fn random(&self) -> u64 {
        42
    }
    fn kv(&self, namespace: &str, key: &str) -> Result<Option<Value>, String> {
        Ok(match (namespace, key) {
            ("n", "region") => Some(json!("eu-west")),
            ("shared.config", "limits") => Some(json!({"max": 10})),
            _ => None,
        })
    }
    fn file_size(&self, uri: &str) -> Result<u64, String> {
        if uri.ends_with("/data.csv") {
            Ok(1234)
        } else {
            Err(format!("{uri} does not exist"))
        }
    }
    #[cfg(feature = "runtime")]
    fn encrypt(&self, key: &str, plaintext: &str) -> Result<String, String> {
        crate::crypto::encrypt(key, plaintext)
    }
    #[cfg(feature = "runtime")]
    fn decrypt(&self, key: &str, encrypted: &str) -> Result<String, String> {
        crate::crypto::decrypt(key, encrypted)
    }
}

fn context() -> Value {
    json!({
        "inputs": {"name": "World", "workers": 2, "ratio": 0.5, "empty": "", "nothing": null, "list": [3, 1, 2], "tags": {"a": 1, "b": "x"}},
        "vars": {"env": "dev", "template": "Hi {{ inputs.name }}", "nested": "{{ vars.template }}!", "again": "{{ render(vars.again) }}"},
        "outputs": {"q": {"row": {"region": "north"}, "rows": [{"id": 1}, {"id": 2}]}, "my-task": {"value": "v"}},
        "execution": {"id": "abc", "startDate": "2026-11-25T08:30:00Z"},
        "flow": {"id": "f", "namespace": "n"},
        "trigger": {"namespace": "up", "flowId": "first", "executionId": "e0"},
    })
}

/// Renders `template` (a lone expression keeps its type) and compares it
/// with `expected`: a value, or an error containing the text.
fn check(template: &str, expected: Result<Value, &str>) {
    check_with(template, &Limits::default(), expected)
}

fn check_with(template: &str, limits: &Limits, expected: Result<Value, &str>) {
    let got = Template::parse(template)
        .map_err(|e| e.message)
        .and_then(|t| {
            t.render_value(&context(), &TestHost, &Masker::default(), &[], limits)
                .map_err(|e| e.to_string())
        });
    match (got, expected) {
        (Ok(got), Ok(want)) => assert_eq!(got, want, "{template}"),
        (Err(got), Err(want)) => assert!(
            got.contains(want),
            "{template}: error {got:?} lacks {want:?}"
        ),
        (got, want) => panic!("{template}: got {got:?}, want {want:?}"),
    }
}

fn text(s: &str) -> Result<Value, &'static str> {
    Ok(Value::String(s.to_owned()))
}

#[test]
fn literals_and_printing() {
    check("{{ 1 }}", Ok(json!(1)));
    check("{{ 1.5 }}", Ok(json!(1.5)));
    check("{{ 'a' }}{{ \"b\" }}", text("ab"));
    check("{{ 'it\\'s' }}", text("it's"));
    // Pebble unescapes only the quote: `\n` stays two characters.
    check("{{ 'a\\nb' }}", text("a\\nb"));
    check("{{ \"x #{inputs.name | upper} y\" }}", text("x WORLD y"));
    check("{{ null }}", Ok(Value::Null));
    check("[{{ none }}]", text("[]"));
    check("{{ true }} {{ false }}", text("true false"));
    check("{{ [1, 'a', [2]] }}", Ok(json!([1, "a", [2]])));
    check(
        "{{ {'a': 1, \"b\": [true]} }}",
        Ok(json!({"a": 1, "b": [true]})),
    );
    // Kestra's JsonWriter prints maps and lists as JSON.
    check(
        "m={{ {'a': 1} }} l={{ [1, 2] }}",
        text("m={\"a\":1} l=[1,2]"),
    );
    // Java prints a whole double with `.0`, and large ones in E notation.
    check(
        "{{ 4 / 2.0 }} {{ 10000000.0 }} {{ 0.0001 }}",
        text("2.0 1.0E7 1.0E-4"),
    );
    check("{{ inputs.ratio }}", Ok(json!(0.5)));
    check("a {# a comment #}b", text("a b"));
}

#[test]
fn whitespace_control_and_raw_text() {
    check("a  {{- 'b' -}}  c", text("abc"));
    check("a {%- if true -%} b {%- endif -%} c", text("abc"));
    check(
        "{% verbatim %}{{ not rendered }}{% endverbatim %}",
        text("{{ not rendered }}"),
    );
    // Kestra's VariableRenderer keeps `{% raw %}` bodies as they are.
    check("{% raw %}{{ x }}{% endraw %}!", text("{{ x }}!"));
}

#[test]
fn operators() {
    check("{{ 1 + 2 * 3 }}", Ok(json!(7)));
    check("{{ (1 + 2) * 3 }}", Ok(json!(9)));
    // Two longs divide as Java longs.
    check("{{ 7 / 2 }}", Ok(json!(3)));
    check("{{ 7 / 2.0 }}", Ok(json!(3.5)));
    check("{{ 7 % 3 }}", Ok(json!(1)));
    check("{{ 1 - 5 }}", Ok(json!(-4)));
    check("{{ -inputs.workers }}", Ok(json!(-2)));
    check("{{ +3 }}", Ok(json!(3)));
    check("{{ 1 / 0 }}", Err("division by zero"));
    // OperatorUtils.add concatenates when either side is a string.
    check("{{ 'a' + 1 }}", text("a1"));
    check("{{ 1 + 'a' }}", text("1a"));
    // ... and toNumber parses strings for the other operators.
    check("{{ '3' * 2 }}", Ok(json!(6)));
    check("{{ [1] + 2 }}", Ok(json!([1, 2])));
    check("{{ 'a' ~ 1 ~ null ~ true }}", text("a1true"));
    check("{{ inputs.workers == 2 }}", Ok(json!(true)));
    check("{{ 1 == 1.0 }}", Ok(json!(true)));
    check("{{ 'a' equals 'a' }}", Ok(json!(true)));
    check("{{ 'a' != 'b' }}", Ok(json!(true)));
    check(
        "{{ 1 < 2 and 2 <= 2 and 3 > 2 and 3 >= 4 }}",
        Ok(json!(false)),
    );
    check("{{ 'a' < 'b' }}", Err("compare numbers"));
    check("{{ true or false }}", Ok(json!(true)));
    check("{{ not false }}", Ok(json!(true)));
    check("{{ not inputs.workers == 2 }}", Ok(json!(false)));
    check("{{ inputs.list contains 3 }}", Ok(json!(true)));
    check("{{ inputs.tags contains 'b' }}", Ok(json!(true)));
    check("{{ 'hello' contains 'ell' }}", Ok(json!(true)));
    check("{{ 1..3 }}", Ok(json!([1, 2, 3])));
    check("{{ inputs.workers > 1 ? 'many' : 'one' }}", text("many"));
    check("{{ inputs.empty ? 'y' : 'n' }}", text("n"));
    check("{{ inputs.x ?? 'd' }}", text("d"));
    check("{{ inputs.nothing ?? 'd' }}", text("d"));
    check("{{ inputs.name ?? 'd' }}", text("World"));
    check("{{ inputs.a.b.c ?? inputs.name }}", text("World"));
    // `???` falls back only when undefined: null stays.
    check("{{ inputs.nothing ??? 'd' }}", Ok(Value::Null));
    check("{{ inputs.x ??? 'd' }}", text("d"));
    check(
        "{{ inputs.list[0] }}{{ inputs.list.1 }}{{ inputs.tags['b'] }}",
        text("31x"),
    );
    check("{{ outputs['my-task'].value }}", text("v"));
    check("{{ outputs.q.rows[1].id }}", Ok(json!(2)));
}

#[test]
fn strict_variables() {
    check("{{ inputs.nope }}", Err("`inputs.nope` is undefined"));
    check(
        "{{ nope }}",
        Err("or give a fallback with `nope ?? 'value'`"),
    );
    check(
        "{{ outputs.q.rows[5].id }}",
        Err("`outputs.q.rows[5]` is undefined"),
    );
    check("{{ inputs.nope | default('x') }}", text("x"));
    check("{{ inputs.nope is defined }}", Ok(json!(false)));
    check("{{ inputs.name is defined }}", Ok(json!(true)));
    // Pebble lets only `defined` see an undefined value.
    check("{{ inputs.nope is null }}", Err("is undefined"));
    check("{{ inputs.nope | upper }}", Err("is undefined"));
}

#[test]
fn tags() {
    check(
        "{% if inputs.workers > 5 %}big{% elseif inputs.workers > 1 %}mid{% else %}small{% endif %}",
        text("mid"),
    );
    check("{% if false %}x{% endif %}", text(""));
    check("{% if inputs.nothing %}x{% endif %}", Err("null"));
    check("{% for x in inputs.list %}{{ x }}{% endfor %}", text("312"));
    check(
        "{% for x in [] %}{{ x }}{% else %}none{% endfor %}",
        text("none"),
    );
    check(
        "{% for i in range(1, 3) %}{{ loop.index }}{{ loop.first }}{{ loop.last }}{{ loop.length }}{{ loop.revindex }},{% endfor %}",
        text("0truefalse32,1falsefalse31,2falsetrue30,"),
    );
    // A map iterates over entries with `key` and `value` (Pebble's ForNode).
    check(
        "{% for e in inputs.tags %}{{ e.key }}={{ e.value }};{% endfor %}",
        text("a=1;b=x;"),
    );
    check("{% for i in 1..3 %}{{ i }}{% endfor %}", text("123"));
    check(
        "{% for x in inputs.nothing %}x{% else %}e{% endfor %}",
        text(""),
    );
    check("{% set n = inputs.workers * 10 %}{{ n }}", text("20"));
    check(
        "{% set total = 0 %}{% for x in inputs.list %}{% set total = total + x %}{% endfor %}{{ total }}",
        text("6"),
    );
    check(
        "{% filter upper %}hello {{ inputs.name }}{% endfilter %}",
        text("HELLO WORLD"),
    );
    check(
        "{% for x in inputs.name %}{% endfor %}",
        Err("needs a list or a map"),
    );
    check("{% if true %}x", Err("has no `{% endif %}`"));
    check("{% endfor %}", Err("has no opening tag"));
    check("{% macro m() %}{% endmacro %}", Err("unknown tag `macro`"));
}

#[test]
fn tests() {
    check("{{ null is null }}", Ok(json!(true)));
    check("{{ 1 is not null }}", Ok(json!(true)));
    check(
        "{{ '' is empty }} {{ ' ' is empty }} {{ [] is empty }} {{ {} is empty }} {{ 'a' is empty }}",
        text("true true true true false"),
    );
    check(
        "{{ 2 is even }} {{ 2 is odd }} {{ 3 is odd }}",
        text("true false true"),
    );
    check(
        "{{ [1] is iterable }} {{ {} is iterable }} {{ {} is map }}",
        text("true false true"),
    );
    check(
        "{{ '{\"a\": 1}' is json }} {{ 'nope' is json }}",
        text("true false"),
    );
    check("{{ 1 is nosuch }}", Err("unknown test `nosuch`"));
}

#[test]
fn filters() {
    check(
        "{{ '' | default('x') }} {{ 'a' | default('x') }} {{ null | default('x') }}",
        text("x a x"),
    );
    check(
        "{{ 'héllo' | length }} {{ [1, 2] | length }} {{ {'a': 1} | length }} {{ null | length }}",
        text("5 2 1 0"),
    );
    check(
        "{{ 'a' | className }} {{ 1 | className }} {{ 1.5 | className }}",
        text("java.lang.String java.lang.Long java.lang.Double"),
    );
    check("{{ (1 == 1) | string }}", text("true"));
    check("{{ '12' | number }}", Ok(json!(12)));
    check("{{ '1.5' | number }}", Ok(json!(1.5)));
    check("{{ '12' | number('DOUBLE') }}", Ok(json!(12.0)));
    check("{{ 'x' | number }}", Err("is not a number"));
    check(
        "{{ outputs.q.row | toJson }}",
        text("{\"region\":\"north\"}"),
    );
    check("{{ outputs.q.row | json }}", text("{\"region\":\"north\"}"));
    check("{{ null | toJson }}", text("null"));
    check("{{ [1, 'a'] | jsonEncode }}", text("[1,\"a\"]"));
    check("{{ '[1]' | jsonDecode }}", Ok(json!([1])));
    check("{{ '{\"a\": [1]}' | fromJson }}", Ok(json!({"a": [1]})));
    check(
        "{{ 'AbC' | upper }} {{ 'AbC' | lower }} {{ 'hello world' | capitalize }} {{ 'hello world' | title }}",
        text("ABC abc Hello world Hello World"),
    );
    check("{{ '  a ' | trim }}", text("a"));
    check(
        "{{ 'Hello World' | abbreviate(8) }} {{ 'Hi' | abbreviate(8) }}",
        text("Hello... Hi"),
    );
    check(
        "{{ 'abc' | startsWith('ab') }} {{ 'abc' | endsWith(value='bc') }}",
        text("true true"),
    );
    check(
        "{{ 'a.b.c' | substringBefore('.') }} {{ 'a.b.c' | substringBeforeLast('.') }} {{ 'a.b.c' | substringAfter('.') }} {{ 'a.b.c' | substringAfterLast('.') }}",
        text("a a.b b.c c"),
    );
    check(
        "{{ 'a.b' | substringAfter('-') }}|{{ 'a.b' | substringBefore('-') }}",
        text("|a.b"),
    );
    // Java's String.split takes a regular expression and drops trailing
    // empty parts.
    check("{{ 'a,b,,' | split(',') }}", Ok(json!(["a", "b"])));
    // Pebble unescapes only quotes, so the regular expression is `\.`.
    check("{{ 'a.b.c' | split('\\.', 2) }}", Ok(json!(["a", "b.c"])));
    check("{{ 'aXbX' | replace({'X': '-'}) }}", text("a-b-"));
    check(
        "{{ 'a1b22' | replace({'[0-9]+': '#'}, regexp=true) }}",
        text("a#b#"),
    );
    check(
        "{{ ['aX', {'k': 'X'}] | replace({'X': 'y'}) }}",
        Ok(json!(["ay", {"k": "y"}])),
    );
    check(
        "{{ \"it's\" | escapeChar('single') }} {{ 'say \"hi\"' | escapeChar('double') }} {{ \"it's\" | escapeChar('shell') }}",
        text("it\\'s say \\\"hi\\\" it'\\''s"),
    );
    check("{{ 'Hello World!' | slugify }}", text("hello-world"));
    check("{{ 'a\nb' | indent(2) }}", text("a\n  b"));
    check("{{ 'a\nb' | nindent(2, prefix='-') }}", text("\n--a\n--b"));
    check(
        "{{ 'a b&c=d/é' | urlencode }}",
        text("a+b%26c%3Dd%2F%C3%A9"),
    );
    check("{{ 'a+b%26c' | urldecode }}", text("a b&c"));
    check(
        "{{ 'hello' | base64encode }} {{ 'aGVsbG8=' | base64decode }}",
        text("aGVsbG8= hello"),
    );
    check(
        "{{ 'abc' | sha1 }}",
        text("a9993e364706816aba3e25717850c26c9cd0d89d"),
    );
    check(
        "{{ 'abc' | sha256 }}",
        text("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
    );
    check(
        "{{ 'abc' | md5 }}",
        text("900150983cd24fb0d6963f7d28e17f72"),
    );
    check("{{ ('abc' | sha512) | length }}", Ok(json!(128)));
    check("{{ -3 | abs }} {{ -1.5 | abs }}", text("3 1.5"));
    check(
        "{{ 1234567.891 | numberformat('#,##0.00') }} {{ 3.14159 | numberformat('0.##') }} {{ 2 | numberformat('0.00') }}",
        text("1,234,567.89 3.14 2.00"),
    );
    check(
        "{{ [1, 2] | first }} {{ [1, 2] | last }} {{ 'abc' | first }} {{ 'abc' | last }} {{ [] | first }}",
        text("1 2 a c "),
    );
    check(
        "{{ [1, 'a', 2] | join(', ') }} {{ [1, 2] | join }}",
        text("1, a, 2 12"),
    );
    check("{{ 'a' | join }}", Err("joins a list, not the string"));
    check("{{ [1, 2, 3, 4] | slice(1, 3) }}", Ok(json!([2, 3])));
    check("{{ 'hello' | slice(1) }}", text("ello"));
    check(
        "{{ 'hello' | slice(2, 9) }}",
        Err("do not fit a length of 5"),
    );
    check("{{ inputs.tags | keys }}", Ok(json!(["a", "b"])));
    check("{{ inputs.tags | values }}", Ok(json!([1, "x"])));
    check(
        "{{ inputs.list | sort }} {{ inputs.list | rsort }} {{ inputs.list | reverse }} {{ 'abc' | reverse }}",
        text("[1,2,3] [3,2,1] [2,1,3] cba"),
    );
    check("{{ ['b', 'a'] | sort }}", Ok(json!(["a", "b"])));
    check(
        "{{ [1] | merge([2]) }} {{ {'a': 1} | merge({'b': 2}) }}",
        text("[1,2] {\"a\":1,\"b\":2}"),
    );
    check("{{ [1, 2, 1, 3, 2] | distinct }}", Ok(json!([1, 2, 3])));
    check("{{ [1, 2, 3] | chunk(2) }}", Ok(json!([[1, 2], [3]])));
    check(
        "{{ [1, [2, 3], [[4]]] | flatten }}",
        Ok(json!([1, 2, 3, [4]])),
    );
    check("{{ null | upper }}", Ok(Value::Null));
    check("{{ 'a' | nosuch }}", Err("unknown filter `nosuch`"));
    check("{{ 'a' | uper }}", Err("did you mean `upper`?"));
    check("{{ 'a' | upper(1) }}", Err("takes at most 0 arguments"));
    check(
        "{{ 'a' | abbreviate(size=1) }}",
        Err("has no parameter `size`"),
    );
    check("{{ 'a' | abbreviate }}", Err("needs its `length` argument"));
}

#[test]
fn dates() {
    check(
        "{{ execution.startDate | date('yyyy-MM-dd') }}",
        text("2026-11-25"),
    );
    check(
        "{{ execution.startDate | date('HH:mm', timeZone='Europe/Paris') }}",
        text("09:30"),
    );
    check(
        "{{ execution.startDate | date(\"yyyy-MM-dd'T'HH:mm\") }}",
        text("2026-11-25T08:30"),
    );
    check("{{ 0 | date('yyyy') }}", text("1970"));
    check("{{ now() }}", text("2026-11-25T08:00:00.000000Z"));
    check("{{ now(format='yyyy') }}", text("2026"));
    // Kestra's date library, through the declarations (its own tables test
    // the values; these test the wiring).
    check(
        "{{ '2024-01-31T10:00:00Z' | dateAdd(1, 'DAYS', format='yyyy-MM-dd') }}",
        text("2024-02-01"),
    );
    check("{{ '1970-01-01T00:00:10Z' | timestamp }}", Ok(json!(10)));
    let at = json!("1970-01-01T00:00:10Z");
    for (filter, want) in [
        (
            "timestampMilli",
            super::dates::timestamp_milli(&at, None, None),
        ),
        (
            "timestampMicro",
            super::dates::timestamp_micro(&at, None, None),
        ),
        (
            "timestampNano",
            super::dates::timestamp_nano(&at, None, None),
        ),
    ] {
        check(
            &format!("{{{{ '1970-01-01T00:00:10Z' | {filter} }}}}"),
            Ok(want.unwrap()),
        );
    }
    // The literal uses, for the declaration check: | timestampMilli | timestampMicro | timestampNano
    check("{{ isWeekend('2026-11-28') }}", Ok(json!(true)));
    check("{{ dayOfWeek('2026-11-25') }}", text("WEDNESDAY"));
    check("{{ dayOfMonth('2026-11-25') }}", Ok(json!(25)));
    check("{{ monthOfYear('2026-11-25') }}", Ok(json!(11)));
    check("{{ hourOfDay('2026-11-25T08:30:00Z') }}", Ok(json!(8)));
    check(
        "{{ isDateBefore('2026-11-24T00:00:00Z', '2026-11-25T00:00:00Z') }}",
        Ok(json!(true)),
    );
    check(
        "{{ isDateAfter('2026-11-24T00:00:00Z', '2026-11-25T00:00:00Z') }}",
        Ok(json!(false)),
    );
    check(
        "{{ isDateBetween('2026-11-24T00:00:00Z', '2026-11-23T00:00:00Z', '2026-11-25T00:00:00Z') }}",
        Ok(json!(true)),
    );
    check(
        "{{ isDayWeekInMonth('2026-11-25', 'WEDNESDAY', 'LAST') }}",
        Ok(json!(true)),
    );
    check("{{ isLastWorkingDay('2026-11-30') }}", Ok(json!(true)));
    check(
        "{{ now(timeZone='Europe/Paris') }}",
        text("2026-11-25T09:00:00.000000+01:00"),
    );
}

#[test]
fn functions() {
    check("{{ secret('TOKEN') }}", text("dapi-s3cr3t"));
    check("{{ secret('MISSING') }}", Err("SECRET_MISSING"));
    check("{{ read('storage:///a.txt') }}", text("file text"));
    check("{{ read('storage:///b') }}", Err("does not exist"));
    check("{{ render(vars.template) }}", text("Hi World"));
    // Recursive by default, as Kestra's RenderFunction.
    check("{{ render(vars.nested) }}", text("Hi World!"));
    check(
        "{{ renderOnce(vars.nested) }}",
        text("Hi {{ inputs.name }}!"),
    );
    check(
        "{{ render(vars.nested, recursive=false) }}",
        text("Hi {{ inputs.name }}!"),
    );
    check("{{ render('{{ 1 +') }}", Err("in the rendered text"));
    check("{{ fromJson('[1, 2]') }}", Ok(json!([1, 2])));
    check("{{ json('{\"a\": true}') }}", Ok(json!({"a": true})));
    check("{{ range(1, 5, 2) }}", Ok(json!([1, 3, 5])));
    check("{{ range(3, 1, -1) }}", Ok(json!([3, 2, 1])));
    check("{{ range(0, 1, 0) }}", Err("cannot be 0"));
    check("{{ max(1, 5, 3) }} {{ min(4, 2.5, 9) }}", text("5 2.5"));
    check("{{ uuid() | length }}", Ok(json!(36)));
    check("{{ uuid() }}", text("00000000-0000-402a-8000-00000000002a"));
    check("{{ id() | length }}", Ok(json!(22)));
    check("{{ randomInt(10, 20) }}", Ok(json!(12)));
    check("{{ randomInt(5, 1) }}", Err("less than `lower`"));
    check(
        "{{ printContext().flow }}",
        Ok(json!({"id": "f", "namespace": "n"})),
    );
    check("{{ fetchContext().flow.id }}", text("f"));
    // FileSizeFunction: files of this execution or of the one that triggered it, no other.
    check(
        "{{ fileSize('storage:///n/f/executions/abc/data.csv') }}",
        Ok(json!(1234)),
    );
    check(
        "{{ fileSize('storage:///up/first/executions/e0/data.csv') }}",
        Ok(json!(1234)),
    );
    check(
        "{{ fileSize('storage:///n/f/executions/other/data.csv') }}",
        Err("not a file of this execution"),
    );
    check(
        "{{ fileSize('storage:///n/f/executions/abc/gone.csv') }}",
        Err("does not exist"),
    );
    // FileURIFunction: the namespace's dots become folders.
    check(
        "{{ fileURI('scripts/clean.py') }}",
        text("kestra:///n/_files/scripts/clean.py"),
    );
    check("{{ fileURI('/a.sql') }}", text("kestra:///n/_files/a.sql"));
    check("{{ fileURI('../x') }}", Err("must not contain `../`"));
    #[cfg(feature = "runtime")]
    {
        // A 32-byte key in base64, as Kestra's tests use; a fresh IV each time, so only the round trip is fixed.
        check(
            "{{ decrypt('MTIzNDU2Nzg5MDEyMzQ1Njc4OTAxMjM0NTY3ODkwMTI=', encrypt('MTIzNDU2Nzg5MDEyMzQ1Njc4OTAxMjM0NTY3ODkwMTI=', 'my secret')) }}",
            text("my secret"),
        );
        check(
            "{{ encrypt('MTIzNDU2Nzg5MDEyMzQ1Njc4OTAxMjM0NTY3ODkwMTI=', 'abc') | length }}",
            Ok(json!(44)),
        );
        check("{{ encrypt('short', 'abc') }}", Err("not base64"));
        check(
            "{{ decrypt('MTIzNDU2Nzg5MDEyMzQ1Njc4OTAxMjM0NTY3ODkwMTI=', 'AAAA') }}",
            Err("too short"),
        );
    }
    // CurrentEachOutputFunction, on Kestra's current-output.yaml shapes.
    let nested = json!({
        "outputs": {"ret": {"v11": {"v21": {"v31": {"value": "v11-v21-v31"}}}}, "flat": {"v41": {"value": "v41"}}},
        "parents": [{"taskrun": {"value": "v21"}}, {"taskrun": {"value": "v11"}}],
        "taskrun": {"value": "v31"},
    });
    let render = |template: &str, context: &Value| {
        Template::parse(template).unwrap().render(
            context,
            &TestHost,
            &Masker::default(),
            &[],
            &Limits::default(),
        )
    };
    assert_eq!(
        render("{{ currentEachOutput(outputs.ret).value }}", &nested).unwrap(),
        "v11-v21-v31"
    );
    let flat = json!({"outputs": {"flat": {"v41": {"value": "v41"}}}, "parents": [], "taskrun": {"value": "v41"}});
    assert_eq!(
        render("{{ currentEachOutput(outputs.flat).value }}", &flat).unwrap(),
        "v41"
    );
    check(
        "{{ currentEachOutput('x') }}",
        Err("expects the outputs of a task"),
    );
    check("{{ errorLogs() }}", Err("runs only where flows run"));
    // Pebble's `format`: Java's String.format, with Java's outputs.
    check(
        "{{ 'Hello %s, you have %d messages' | format('Ann', 3) }}",
        text("Hello Ann, you have 3 messages"),
    );
    check(
        "{{ '%05d|%-5s|%5s|%,d|%+d|%(d' | format(42, 'ab', 'ab', 1234567, 5, -5) }}",
        text("00042|ab   |   ab|1,234,567|+5|(5)"),
    );
    check(
        "{{ '%.2f %08.2f %,.1f %e %g' | format(3.14159, -3.5, 1234567.25, 12345.678, 0.0001234) }}",
        text("3.14 -0003.50 1,234,567.3 1.234568e+04 0.000123400"),
    );
    check(
        "{{ '%x %X %o %#x' | format(255, 255, 8, 255) }}",
        text("ff FF 10 0xff"),
    );
    // Java rounds half up from the shortest decimal form.
    check(
        "{{ '%.2f %.1f %.0f %.3f %.2f %.1f' | format(0.125, 0.15, 0.5, 0.0001, 99.999, 0.05) }}",
        text("0.13 0.2 1 0.000 100.00 0.1"),
    );
    check("{{ '%2$s %1$s %<s' | format('a', 'b') }}", text("b a a"));
    check(
        "{{ '%s %s %S %.3s %b %c' | format([1, 2], {'a': 1}, 'ab', 'abcdef', null, 'z') }}",
        text("[1, 2] {a=1} AB abc false z"),
    );
    check("{{ '100%%%n' | format }}", text("100%\n"));
    check(
        "{{ '%d' | format(1.5) }}",
        Err("`%d` needs a whole number, not the number 1.5"),
    );
    check("{{ '%f' | format(2) }}", Err("`%f` needs a decimal number"));
    check(
        "{{ '%s %s' | format('a') }}",
        Err("`%s` has no argument: the pattern needs at least 2 and 1 given"),
    );
    check("{{ '%q' | format('a') }}", Err("`%q` is not a conversion"));
    check(
        "{{ '%999999999s' | format('a') }}",
        Err("wider than the output limit"),
    );
    // Pebble's nl2br: every kind of line break.
    check(
        "{{ 'a\nb\r\nc\rd' | nl2br }}",
        text("a<br />b<br />c<br />d"),
    );
    check("{{ nosuch() }}", Err("unknown function `nosuch`"));
    // KvFunction: the flow's namespace by default; missing is an error unless errorOnMissing=false.
    check("{{ kv('region') }}", text("eu-west"));
    check("{{ kv('limits', 'shared.config').max }}", Ok(json!(10)));
    check(
        "{{ kv('nothing') }}",
        Err("the key 'nothing' does not exist in the namespace 'n'"),
    );
    check(
        "{{ kv('nothing', errorOnMissing=false) ?? 'none' }}",
        text("none"),
    );
    // A flow of shared.config.team finds shared.config's keys, unless it names a namespace.
    let child = json!({"flow": {"namespace": "shared.config.team"}});
    let render = |template: &str| {
        Template::parse(template).unwrap().render(
            &child,
            &TestHost,
            &Masker::default(),
            &[],
            &Limits::default(),
        )
    };
    assert_eq!(render("{{ kv('limits').max }}").unwrap(), "10");
    assert!(
        render("{{ kv('limits', 'shared.config.team').max }}")
            .unwrap_err()
            .to_string()
            .contains("does not exist in the namespace 'shared.config.team'")
    );
    check("{{ secrett('A') }}", Err("did you mean `secret`?"));
}

#[test]
fn limits_stop_runaway_templates() {
    let small = Limits {
        steps: 1_000,
        output_bytes: 100,
        depth: 3,
    };
    check_with(
        "{% for i in range(1, 100000) %}{% endfor %}",
        &small,
        Err("steps limit of 1000"),
    );
    check_with(
        "{% for i in range(1, 100) %}{% for j in range(1, 100) %}{% endfor %}{% endfor %}",
        &small,
        Err("steps limit"),
    );
    check_with(
        "{% for i in range(1, 50) %}0123456789{% endfor %}",
        &small,
        Err("output size (bytes) limit of 100"),
    );
    check_with("{{ 1..100000 }}", &small, Err("steps limit"));
    // Doubling a string or a list in a loop stops at a limit, not at the
    // end of memory.
    check_with(
        "{% set s = 'x' %}{% for i in 1..64 %}{% set s = s ~ s %}{% endfor %}",
        &small,
        Err("output size (bytes) limit of 100"),
    );
    check_with(
        "{% set l = [1] %}{% for i in 1..64 %}{% set l = l + l %}{% endfor %}",
        &small,
        Err("steps limit"),
    );
    check_with(
        "{{ 'a\nb' | indent(60) }}",
        &small,
        Err("output size (bytes) limit"),
    );
    check(
        "{{ range(-9223372036854775807, 9223372036854775807, 9223372036854775807) }}",
        Ok(json!([-9223372036854775807i64, 0, 9223372036854775807i64])),
    );
    check_with(
        "{{ render(vars.again) }}",
        &Limits {
            depth: 1,
            ..Limits::default()
        },
        Err("nesting depth limit of 1"),
    );
    check(
        "{{ render(vars.again) }}",
        Err("nesting depth limit of 100"),
    );
    // The deepest expression the parser takes evaluates without running
    // out of stack.
    let deepest = format!("{{{{ {}1{} }}}}", "(".repeat(95), ")".repeat(95));
    check(&deepest, Ok(json!(1)));
    // The default budget stops the classic nested loop at once: the inner
    // range alone is over a tenth of it, and the loops exhaust the rest.
    check(
        "{% for i in range(1, 100000) %}{% for j in range(1, 100000) %}{% endfor %}{% endfor %}",
        Err("steps limit of 10000000"),
    );
    let deep = format!("{{{{ {}1{} }}}}", "(".repeat(200), ")".repeat(200));
    check(&deep, Err("nests deeper than 100"));
}

#[test]
fn syntax_errors_point_at_their_text() {
    let cases: &[(&str, &str, &str)] = &[
        ("a {{ inputs.a ", "syntax error", "{{ inputs.a "),
        ("{{ 1 + }}", "expected an expression", "}}"),
        ("{{ a b }}", "expected `}}`", "b"),
        ("{{ 'open }}", "string is not closed", "'open }}"),
        ("{% nope %}", "unknown tag `nope`", "nope"),
        ("{{ x | date(1 }}", "`,` or `)`", "}}"),
        ("{{ a ? b }}", "`:`", "}}"),
    ];
    for (template, message, at) in cases {
        let error = Template::parse(template).unwrap_err();
        assert!(error.message.contains(message), "{template}: {error:?}");
        let range = error.range.clone().unwrap();
        assert_eq!(&template[range], *at, "{template}: {error:?}");
    }
}

#[test]
fn check_reports_variables_and_unknown_names() {
    let checked = |template: &str| Template::parse(template).unwrap().check();
    let (variables, errors) = checked(
        "{{ inputs.a }} {{ outputs.t.value | upper }} {% for x in vars.list %}{{ x.y }}{{ loop.index }}{% endfor %}{% set s = 1 %}{{ s }}{{ outputs['my-task'].v }}",
    );
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(
        variables.into_iter().collect::<Vec<_>>(),
        [
            "inputs.a",
            "outputs.my-task.v",
            "outputs.t.value",
            "vars.list"
        ]
    );
    let (variables, errors) = checked(
        "{{ secret('TOKEN') }} {{ now() }} {{ inputs.x ?? 'd' }} {{ inputs.y ? 1 : 2 }} {{ x is defined }}",
    );
    assert!(errors.is_empty(), "{errors:?}");
    // What `??`, `???`, `| default` and `is defined` guard may be missing: it is not reported
    // (Kestra's own empty-variables.yml reads `outputs.not_existing ?? ''`).
    assert_eq!(variables.into_iter().collect::<Vec<_>>(), ["inputs.y"]);
    let (variables, errors) = checked(
        "{{ outputs.gone ??? 'x' }} {{ vars.nope | default('z') }} {{ inputs.maybe.deep ?? inputs.other }}",
    );
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(variables.into_iter().collect::<Vec<_>>(), ["inputs.other"]);
    // A guarded call is still checked.
    assert!(!checked("{{ nope() ?? 1 }}").1.is_empty());
    let template = "{{ a | uper }} {{ secrte('x') }} {{ b is nul }} {{ c | abbreviate(size=2) }}";
    let (_, errors) = checked(template);
    let found: Vec<(&str, &str)> = errors
        .iter()
        .map(|e| (&template[e.range.clone().unwrap()], e.message.as_str()))
        .collect();
    assert_eq!(
        found,
        [
            ("uper", "unknown filter `uper`: did you mean `upper`?"),
            (
                "secrte",
                "unknown function `secrte`: did you mean `secret`?"
            ),
            ("nul", "unknown test `nul`: did you mean `null`?"),
            (
                "abbreviate",
                "filter `abbreviate` has no parameter `size` (parameters: length)"
            ),
        ]
    );
}

#[test]
fn conversions() {
    check(
        "{{ {'a': 1, 'b': [2, 3]} | jq('.b[]') }}",
        Ok(json!([2, 3])),
    );
    let value = json!({"a": 1});
    check(
        "{{ {'a': 1} | yaml }}",
        Ok(super::convert::yaml_filter(&value).unwrap()),
    );
    check(
        "{{ {'a': 1} | toIon }}",
        Ok(super::convert::to_ion(&value).unwrap()),
    );
    check("{{ yaml('a: 1') }}", Ok(json!({"a": 1})));
    check("{{ fromIon('{a: 1}') }}", Ok(json!({"a": 1})));
}

#[test]
fn every_declaration_is_tested_here() {
    let source = include_str!("tests.rs");
    for declaration in super::library::declarations() {
        let used = match declaration.kind {
            super::library::Kind::Filter => format!("| {}", declaration.name),
            super::library::Kind::Function => format!("{}(", declaration.name),
            super::library::Kind::Test => format!("is {}", declaration.name),
        };
        let negated = format!("is not {}", declaration.name);
        assert!(
            source.contains(&used) || source.contains(&negated),
            "no test uses {} `{}`",
            declaration.kind.noun(),
            declaration.name
        );
    }
}

#[test]
fn a_typical_property_renders_fast() {
    // Not a timed assertion (that belongs in benches/): this checks the
    // path a property takes, and that nothing in it copies the context.
    let template = Template::parse(
        "{{ inputs.name | upper }}-{{ outputs.q.row.region | default('x') }}-{{ execution.id }}",
    )
    .unwrap();
    let context = context();
    let out = template
        .render(
            &context,
            &TestHost,
            &Masker::default(),
            &[],
            &Limits::default(),
        )
        .unwrap();
    assert_eq!(out, "WORLD-north-abc");
}

#[test]
fn nothing_declared_is_also_listed_as_not_yet_supported() {
    for declaration in super::library::declarations() {
        let message = super::library::unknown(declaration.kind, declaration.name);
        assert!(
            !message.contains("does not support it yet"),
            "{} is declared: take it out of NOT_YET",
            declaration.name
        );
    }
}

mod never_panics {
    use proptest::prelude::*;

    use super::super::Template;

    /// Pieces of templates, so generated input reaches deep into the
    /// parser and not only its first error.
    fn fragment() -> impl Strategy<Value = String> {
        prop_oneof![
            Just("{{".to_owned()),
            Just("}}".to_owned()),
            Just("{%".to_owned()),
            Just("%}".to_owned()),
            Just("{#".to_owned()),
            Just("-".to_owned()),
            Just(" if ".to_owned()),
            Just(" for x in ".to_owned()),
            Just(" endfor ".to_owned()),
            Just(" endif ".to_owned()),
            Just(" verbatim ".to_owned()),
            Just(" | ".to_owned()),
            Just("??".to_owned()),
            Just("?".to_owned()),
            Just(":".to_owned()),
            Just("\"#{".to_owned()),
            Just("'".to_owned()),
            Just("(".to_owned()),
            Just(")".to_owned()),
            Just("[".to_owned()),
            Just("{".to_owned()),
            Just("}".to_owned()),
            Just("..".to_owned()),
            Just(" is not ".to_owned()),
            "[a-z0-9_.,=<>+*/%~ ]{0,6}",
            any::<char>().prop_map(String::from),
        ]
    }

    proptest! {
        #[test]
        fn on_any_text(text in ".{0,200}") {
            if let Ok(template) = Template::parse(&text) {
                let _ = template.check();
            }
        }

        #[test]
        fn on_template_like_text(parts in proptest::collection::vec(fragment(), 0..40)) {
            let text = parts.concat();
            if let Ok(template) = Template::parse(&text) {
                let _ = template.check();
            }
            let _ = crate::flow::expr::check_all(&text);
        }
    }
}
