/// Listings of the official MCP Python SDK's example servers (python-sdk examples/mcpserver/*.py
/// and examples/servers/simple-{tool,prompt,resource,pagination}, run with SDK 2.3 as
/// scripts/bootstrap installs it), captured with a raw initialize and each list method over
/// pipes. Like `RealServers`, none of them may be flagged. (icons_demo, memory and text_me need
/// files or packages the venv does not have, and everything-server did not answer over stdio.)
enum SDKExampleServers {
    static let all: [(server: String, method: String, result: String)] = [
        (
            "mcpserver/complex_inputs", "tools/list",
            #"""
            {"tools":[{"description":"List all shrimp names in the tank","inputSchema":{"properties":{"tank":{"$ref":"#/$defs/ShrimpTank"},"extra_names":{"items":{"type":"string"},"maxItems":10,"title":"Extra Names","type":"array"}},"required":["tank","extra_names"],"type":"object","$defs":{"Shrimp":{"properties":{"name":{"maxLength":10,"title":"Name","type":"string"}},"required":["name"],"title":"Shrimp","type":"object"},"ShrimpTank":{"properties":{"shrimp":{"items":{"$ref":"#/$defs/Shrimp"},"title":"Shrimp","type":"array"}},"required":["shrimp"],"title":"ShrimpTank","type":"object"}},"title":"name_shrimpArguments"},"name":"name_shrimp","outputSchema":{"properties":{"result":{"items":{"type":"string"},"title":"Result","type":"array"}},"required":["result"],"type":"object","title":"name_shrimpOutput"}}]}
            """#
        ),
        (
            "mcpserver/desktop", "tools/list",
            #"""
            {"tools":[{"description":"Add two numbers","inputSchema":{"properties":{"a":{"title":"A","type":"integer"},"b":{"title":"B","type":"integer"}},"required":["a","b"],"type":"object","title":"sumArguments"},"name":"sum","outputSchema":{"properties":{"result":{"title":"Result","type":"integer"}},"required":["result"],"type":"object","title":"sumOutput"}}]}
            """#
        ),
        (
            "mcpserver/desktop", "resources/list",
            #"""
            {"resources":[{"description":"List the files in the user's desktop","mimeType":"text/plain","name":"desktop","uri":"dir://desktop"}]}
            """#
        ),
        (
            "mcpserver/direct_call_tool_result_return", "tools/list",
            #"""
            {"tools":[{"description":"Echo the input text with structure and metadata","inputSchema":{"properties":{"text":{"title":"Text","type":"string"}},"required":["text"],"type":"object","title":"echoArguments"},"name":"echo","outputSchema":{"properties":{"text":{"title":"Text","type":"string"}},"required":["text"],"type":"object","title":"EchoResponse"}}]}
            """#
        ),
        (
            "mcpserver/echo", "tools/list",
            #"""
            {"tools":[{"description":"Echo the input text","inputSchema":{"properties":{"text":{"title":"Text","type":"string"}},"required":["text"],"type":"object","title":"echo_toolArguments"},"name":"echo_tool","outputSchema":{"properties":{"result":{"title":"Result","type":"string"}},"required":["result"],"type":"object","title":"echo_toolOutput"}}]}
            """#
        ),
        (
            "mcpserver/echo", "prompts/list",
            #"""
            {"prompts":[{"arguments":[{"name":"text","required":true}],"description":"","name":"echo"}]}
            """#
        ),
        (
            "mcpserver/echo", "resources/list",
            #"""
            {"resources":[{"description":"","mimeType":"text/plain","name":"echo_resource","uri":"echo://static"}]}
            """#
        ),
        (
            "mcpserver/echo", "resources/templates/list",
            #"""
            {"resourceTemplates":[{"description":"Echo the input text","mimeType":"text/plain","name":"echo_template","uriTemplate":"echo://{text}"}]}
            """#
        ),
        (
            "mcpserver/logging_and_progress", "tools/list",
            #"""
            {"tools":[{"description":"Echo the input text sending log messages and progress updates during processing.","inputSchema":{"properties":{"text":{"title":"Text","type":"string"}},"required":["text"],"type":"object","title":"echoArguments"},"name":"echo","outputSchema":{"properties":{"result":{"title":"Result","type":"string"}},"required":["result"],"type":"object","title":"echoOutput"}}]}
            """#
        ),
        (
            "mcpserver/parameter_descriptions", "tools/list",
            #"""
            {"tools":[{"description":"Greet a user with optional title and repetition","inputSchema":{"properties":{"name":{"description":"The name of the person to greet","title":"Name","type":"string"},"title":{"default":"","description":"Optional title like Mr/Ms/Dr","title":"Title","type":"string"},"times":{"default":1,"description":"Number of times to repeat the greeting","title":"Times","type":"integer"}},"required":["name"],"type":"object","title":"greet_userArguments"},"name":"greet_user","outputSchema":{"properties":{"result":{"title":"Result","type":"string"}},"required":["result"],"type":"object","title":"greet_userOutput"}}]}
            """#
        ),
        (
            "mcpserver/readme-quickstart", "tools/list",
            #"""
            {"tools":[{"description":"Add two numbers","inputSchema":{"properties":{"a":{"title":"A","type":"integer"},"b":{"title":"B","type":"integer"}},"required":["a","b"],"type":"object","title":"sumArguments"},"name":"sum","outputSchema":{"properties":{"result":{"title":"Result","type":"integer"}},"required":["result"],"type":"object","title":"sumOutput"}}]}
            """#
        ),
        (
            "mcpserver/readme-quickstart", "resources/templates/list",
            #"""
            {"resourceTemplates":[{"description":"Get a personalized greeting","mimeType":"text/plain","name":"get_greeting","uriTemplate":"greeting://{name}"}]}
            """#
        ),
        (
            "mcpserver/screenshot", "tools/list",
            #"""
            {"tools":[{"description":"Take a screenshot of the user's screen and return it as an image. Use\n    this tool anytime the user wants you to look at something they're doing.\n    ","inputSchema":{"properties":{},"type":"object","title":"take_screenshotArguments"},"name":"take_screenshot"}]}
            """#
        ),
        (
            "mcpserver/simple_echo", "tools/list",
            #"""
            {"tools":[{"description":"Echo the input text","inputSchema":{"properties":{"text":{"title":"Text","type":"string"}},"required":["text"],"type":"object","title":"echoArguments"},"name":"echo","outputSchema":{"properties":{"result":{"title":"Result","type":"string"}},"required":["result"],"type":"object","title":"echoOutput"}}]}
            """#
        ),
        (
            "mcpserver/unicode_example", "tools/list",
            #"""
            {"tools":[{"description":"🌟 A tool that uses various Unicode characters in its description: á é í ó ú ñ 漢字 🎉","inputSchema":{"properties":{"name":{"default":"世界","title":"Name","type":"string"},"greeting":{"default":"¡Hola","title":"Greeting","type":"string"}},"type":"object","title":"hello_unicodeArguments"},"name":"hello_unicode","outputSchema":{"properties":{"result":{"title":"Result","type":"string"}},"required":["result"],"type":"object","title":"hello_unicodeOutput"}},{"description":"🎨 Tool that returns a list of emoji categories","inputSchema":{"properties":{},"type":"object","title":"list_emoji_categoriesArguments"},"name":"list_emoji_categories","outputSchema":{"properties":{"result":{"items":{"type":"string"},"title":"Result","type":"array"}},"required":["result"],"type":"object","title":"list_emoji_categoriesOutput"}},{"description":"🔤 Tool that returns text in different scripts","inputSchema":{"properties":{},"type":"object","title":"multilingual_helloArguments"},"name":"multilingual_hello","outputSchema":{"properties":{"result":{"title":"Result","type":"string"}},"required":["result"],"type":"object","title":"multilingual_helloOutput"}}]}
            """#
        ),
        (
            "mcpserver/weather_structured", "tools/list",
            #"""
            {"tools":[{"description":"Get current weather for a city with full structured data","inputSchema":{"properties":{"city":{"title":"City","type":"string"}},"required":["city"],"type":"object","title":"get_weatherArguments"},"name":"get_weather","outputSchema":{"properties":{"temperature":{"description":"Temperature in Celsius","title":"Temperature","type":"number"},"humidity":{"description":"Humidity percentage (0-100)","title":"Humidity","type":"number"},"condition":{"description":"Weather condition (sunny, cloudy, rainy, etc.)","title":"Condition","type":"string"},"wind_speed":{"description":"Wind speed in km/h","title":"Wind Speed","type":"number"},"location":{"description":"Location name","title":"Location","type":"string"},"timestamp":{"description":"Observation time","format":"date-time","title":"Timestamp","type":"string"}},"required":["temperature","humidity","condition","wind_speed","location"],"type":"object","description":"Structured weather data response","title":"WeatherData"}},{"description":"Get a brief weather summary for a city","inputSchema":{"properties":{"city":{"title":"City","type":"string"}},"required":["city"],"type":"object","title":"get_weather_summaryArguments"},"name":"get_weather_summary","outputSchema":{"properties":{"city":{"title":"City","type":"string"},"temp_c":{"title":"Temp C","type":"number"},"description":{"title":"Description","type":"string"}},"required":["city","temp_c","description"],"type":"object","description":"Simple weather summary","title":"WeatherSummary"}},{"description":"Get weather metrics for multiple cities\n\n    Returns a dictionary mapping city names to their metrics\n    ","inputSchema":{"properties":{"cities":{"items":{"type":"string"},"title":"Cities","type":"array"}},"required":["cities"],"type":"object","title":"get_weather_metricsArguments"},"name":"get_weather_metrics","outputSchema":{"type":"object","additionalProperties":{"additionalProperties":{"type":"number"},"type":"object"},"title":"get_weather_metricsDictOutput"}},{"description":"Get active weather alerts for a region","inputSchema":{"properties":{"region":{"title":"Region","type":"string"}},"required":["region"],"type":"object","title":"get_weather_alertsArguments"},"name":"get_weather_alerts","outputSchema":{"properties":{"result":{"items":{"$ref":"#/$defs/WeatherAlert"},"title":"Result","type":"array"}},"required":["result"],"type":"object","$defs":{"WeatherAlert":{"description":"Weather alert information","properties":{"severity":{"title":"Severity","type":"string"},"title":{"title":"Title","type":"string"},"description":{"title":"Description","type":"string"},"affected_areas":{"items":{"type":"string"},"title":"Affected Areas","type":"array"},"valid_until":{"format":"date-time","title":"Valid Until","type":"string"}},"required":["severity","title","description","affected_areas","valid_until"],"title":"WeatherAlert","type":"object"}},"title":"get_weather_alertsOutput"}},{"description":"Get just the temperature for a city\n\n    When returning primitives as structured output,\n    the result is wrapped in {\"result\": value}\n    ","inputSchema":{"properties":{"city":{"title":"City","type":"string"},"unit":{"default":"celsius","title":"Unit","type":"string"}},"required":["city"],"type":"object","title":"get_temperatureArguments"},"name":"get_temperature","outputSchema":{"properties":{"result":{"title":"Result","type":"number"}},"required":["result"],"type":"object","title":"get_temperatureOutput"}},{"description":"Get weather statistics for the past N days","inputSchema":{"properties":{"city":{"title":"City","type":"string"},"days":{"default":7,"title":"Days","type":"integer"}},"required":["city"],"type":"object","title":"get_weather_statsArguments"},"name":"get_weather_stats","outputSchema":{"properties":{"location":{"title":"Location","type":"string"},"period_days":{"title":"Period Days","type":"integer"},"temperature":{"$ref":"#/$defs/DailyStats"},"humidity":{"$ref":"#/$defs/DailyStats"},"precipitation_mm":{"description":"Total precipitation in millimeters","title":"Precipitation Mm","type":"number"}},"required":["location","period_days","temperature","humidity","precipitation_mm"],"type":"object","$defs":{"DailyStats":{"description":"Statistics for a single day","properties":{"high":{"title":"High","type":"number"},"low":{"title":"Low","type":"number"},"mean":{"title":"Mean","type":"number"}},"required":["high","low","mean"],"title":"DailyStats","type":"object"}},"description":"Weather statistics over a period","title":"WeatherStats"}}]}
            """#
        ),
        (
            "servers/simple-tool", "tools/list",
            #"""
            {"tools":[{"description":"Fetches a website and returns its content","inputSchema":{"properties":{"url":{"type":"string","description":"URL to fetch"}},"required":["url"],"type":"object"},"name":"fetch","title":"Website Fetcher"}]}
            """#
        ),
        (
            "servers/simple-prompt", "prompts/list",
            #"""
            {"prompts":[{"arguments":[{"description":"Additional context to consider","name":"context","required":false},{"description":"Specific topic to focus on","name":"topic","required":false}],"description":"A simple prompt that can take optional context and topic arguments","name":"simple","title":"Simple Assistant Prompt"}]}
            """#
        ),
        (
            "servers/simple-resource", "resources/list",
            #"""
            {"resources":[{"description":"A sample text resource named greeting","mimeType":"text/plain","name":"greeting","title":"Welcome Message","uri":"file:///greeting.txt"},{"description":"A sample text resource named help","mimeType":"text/plain","name":"help","title":"Help Documentation","uri":"file:///help.txt"},{"description":"A sample text resource named about","mimeType":"text/plain","name":"about","title":"About This Server","uri":"file:///about.txt"}]}
            """#
        ),
        (
            "servers/simple-pagination", "tools/list",
            #"""
            {"nextCursor":"5","tools":[{"description":"This is sample tool number 1","inputSchema":{"properties":{"input":{"type":"string"}},"type":"object"},"name":"tool_1","title":"Tool 1"},{"description":"This is sample tool number 2","inputSchema":{"properties":{"input":{"type":"string"}},"type":"object"},"name":"tool_2","title":"Tool 2"},{"description":"This is sample tool number 3","inputSchema":{"properties":{"input":{"type":"string"}},"type":"object"},"name":"tool_3","title":"Tool 3"},{"description":"This is sample tool number 4","inputSchema":{"properties":{"input":{"type":"string"}},"type":"object"},"name":"tool_4","title":"Tool 4"},{"description":"This is sample tool number 5","inputSchema":{"properties":{"input":{"type":"string"}},"type":"object"},"name":"tool_5","title":"Tool 5"}]}
            """#
        ),
        (
            "servers/simple-pagination", "prompts/list",
            #"""
            {"nextCursor":"7","prompts":[{"arguments":[{"description":"First argument","name":"arg1","required":true}],"description":"This is sample prompt number 1","name":"prompt_1"},{"arguments":[{"description":"First argument","name":"arg1","required":true}],"description":"This is sample prompt number 2","name":"prompt_2"},{"arguments":[{"description":"First argument","name":"arg1","required":true}],"description":"This is sample prompt number 3","name":"prompt_3"},{"arguments":[{"description":"First argument","name":"arg1","required":true}],"description":"This is sample prompt number 4","name":"prompt_4"},{"arguments":[{"description":"First argument","name":"arg1","required":true}],"description":"This is sample prompt number 5","name":"prompt_5"},{"arguments":[{"description":"First argument","name":"arg1","required":true}],"description":"This is sample prompt number 6","name":"prompt_6"},{"arguments":[{"description":"First argument","name":"arg1","required":true}],"description":"This is sample prompt number 7","name":"prompt_7"}]}
            """#
        ),
        (
            "servers/simple-pagination", "resources/list",
            #"""
            {"nextCursor":"10","resources":[{"description":"This is sample resource number 1","name":"resource_1","uri":"file:///path/to/resource_1.txt"},{"description":"This is sample resource number 2","name":"resource_2","uri":"file:///path/to/resource_2.txt"},{"description":"This is sample resource number 3","name":"resource_3","uri":"file:///path/to/resource_3.txt"},{"description":"This is sample resource number 4","name":"resource_4","uri":"file:///path/to/resource_4.txt"},{"description":"This is sample resource number 5","name":"resource_5","uri":"file:///path/to/resource_5.txt"},{"description":"This is sample resource number 6","name":"resource_6","uri":"file:///path/to/resource_6.txt"},{"description":"This is sample resource number 7","name":"resource_7","uri":"file:///path/to/resource_7.txt"},{"description":"This is sample resource number 8","name":"resource_8","uri":"file:///path/to/resource_8.txt"},{"description":"This is sample resource number 9","name":"resource_9","uri":"file:///path/to/resource_9.txt"},{"description":"This is sample resource number 10","name":"resource_10","uri":"file:///path/to/resource_10.txt"}]}
            """#
        ),
    ]
}
