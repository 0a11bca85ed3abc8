import asyncio
from stbass import PAR, Process, Chan, ProcessContext, ProcessResult
 
@Process
async def producer(ctx: ProcessContext) -> ProcessResult:
    # Do some work
    data = {"query": "hello world"}
    
    # Send it across the channel
    # This block until the consumer is ready to receive it!
    await ctx.send("data_chan", data)
    
    return ProcessResult.ok("sent successfully")
 
@Process
async def consumer(ctx: ProcessContext) -> ProcessResult:
    # Wait for the producer to send data
    data = await ctx.recv("data_chan")
    
    return ProcessResult.ok(f"processed: {data}")
 
async def main():
    # 1. Create a typed channel
    ch = Chan(dict, name="data_chan")
    
    # 2. Compose the processes in parallel and bind them to the channel
    result = await PAR(
        producer.with_channels(data_chan=ch),
        consumer.with_channels(data_chan=ch)
    ).run()
    
    # 3. Handle the result
    if result.is_ok:
        print("Pipeline succeeded!")
        print("Returns:", result.value)
    else:
        print("Pipeline failed:", result.failures[0].summary)
 
if __name__ == "__main__":
    asyncio.run(main())
